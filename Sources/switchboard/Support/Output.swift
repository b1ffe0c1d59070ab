import Foundation
import Server
import SwitchboardCore

/// Prints command results: JSON for scripts, aligned text for people.
enum Output {
    static func json(_ value: some Encodable) throws {
        print(String(decoding: try JSONCoding.encoder.encode(value), as: UTF8.self))
    }

    static func table(_ rows: [[String]], header: [String]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}
