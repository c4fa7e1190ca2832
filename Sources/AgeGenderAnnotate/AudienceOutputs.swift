import AgeGenderEvents
import AudienceReport
import FaceAnalysis
import Foundation
import GstPipeline

/// `--report` (the HTML page) and `--summary` (JSON) from what an
/// `AudienceCollector` gathered during a finished run.
extension AudienceCollector {
  /// The element's summary, or (should it not have come) one made of the people received.
  private func summary(_ c: Collected) -> AudienceSummary {
    if let summary = c.summary { return summary }
    var made = AudienceSummary()
    for person in c.people { made.add(person) }
    return made
  }

  /// The self-contained HTML report of the run.
  func writeReport(to path: String, title: String) throws {
    let c = result
    let report = AudienceReport(
      title: title, start: c.start ?? 0, end: c.end ?? 0, frames: c.frames, people: c.people, summary: summary(c),
      faces: c.best.mapValues(\.jpeg))
    do {
      try report.html().write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
      throw Pipeline.Failure("cannot write the report \(path): \(error.localizedDescription)")
    }
  }

  /// The summary as in agegenderjson's `{"event":"summary",...}` line, with
  /// every person's track (as its `"event":"track"` lines, without `event`) in
  /// `tracks`, and the frames and time span analysed.
  func writeSummary(to path: String) throws {
    let c = result
    let json = JSONWriter()
    json.object {
      summary(c).writeMembers(json)
      json.member("frames", c.frames)
      json.member("duration", c.end.map { $0 - (c.start ?? 0) })
      json.member("tracks") {
        json.array {
          for person in c.people { json.object { person.writeMembers(json, event: false) } }
        }
      }
    }
    do {
      try (json.text() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
      throw Pipeline.Failure("cannot write the summary \(path): \(error.localizedDescription)")
    }
  }
}
