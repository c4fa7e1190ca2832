import FaceAnalysis
import Foundation
import Mustache

/// The audience of one video as a self-contained HTML page: headline numbers,
/// a timeline with one bar per person, an age-bracket histogram by gender and
/// a gallery of each person's best face. Everything is inline (CSS, SVG,
/// images as data URIs): the file needs no network and no other file.
///
/// Rendered with a Mustache template (`ReportTemplate`) from a view model laid
/// out by `ReportLayout`; the template escapes every text it inserts.
public struct AudienceReport {
  /// What the page is about (the input's name), shown as its title.
  public var title: String
  /// Time span of the analysed frames (ns): the timeline's axis.
  public var start: UInt64
  public var end: UInt64
  /// Frames analysed.
  public var frames: Int
  public var people: [PersonTrack]
  public var summary: AudienceSummary
  /// Each person's best face, encoded (JPEG), by track id; a person without
  /// one gets a drawn placeholder.
  public var faces: [UInt64: [UInt8]]

  public init(title: String, start: UInt64, end: UInt64, frames: Int, people: [PersonTrack],
    summary: AudienceSummary, faces: [UInt64: [UInt8]]) {
    self.title = title
    self.start = start
    self.end = end
    self.frames = frames
    self.people = people
    self.summary = summary
    self.faces = faces
  }

  /// The page.
  public func html() throws -> String {
    let template = try MustacheTemplate(string: ReportTemplate.text)
    return template.render(ReportLayout(self).page)
  }
}
