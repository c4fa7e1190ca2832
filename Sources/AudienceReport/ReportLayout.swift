import FaceAnalysis
import Foundation

/// Turns an `AudienceReport` into what the template shows: formatted numbers,
/// and the SVG geometry of the timeline and the histogram (computed here, so
/// the template only places it).
struct ReportLayout {
  // MARK: View model (read by the template through reflection)

  struct Page {
    var title: String
    var headline: [Figure]
    var timeline: Timeline
    var histogram: Histogram
    var gallery: [Portrait]
    var nobody: Bool
  }

  struct Figure {
    var value: String
    var label: String
  }

  struct Timeline {
    var width: Int
    var height: Int
    var axisY: Int
    var plotLeft: Int
    var plotRight: Int
    var ticks: [Tick]
    var bars: [TimelineBar]
  }

  struct Tick {
    var x: String
    var label: String
  }

  struct TimelineBar {
    var trackID: UInt64
    var gender: String
    var x: String
    var y: Int
    var width: String
    var height: Int
    var label: String
    var labelX: String
    var labelY: Int
    /// "after" the bar, "inside" it (white on the bar) or "before" it (right-aligned), where it fits.
    var labelPlace: String
    var labelAnchor: String
    var tooltip: String
  }

  struct Histogram {
    var width: Int
    var height: Int
    var baseline: Int
    var groups: [BracketGroup]
    var gridlines: [Gridline]
  }

  struct BracketGroup {
    var name: String
    var centerX: String
    var bars: [HistogramBar]
  }

  struct HistogramBar {
    var gender: String
    var count: Int
    var x: String
    var y: String
    var width: String
    var height: String
    var countY: String
    var centerX: String
  }

  struct Gridline {
    var y: String
    var label: Int
  }

  struct Portrait {
    var trackID: UInt64
    var gender: String
    var image: String
    var caption: String
    var detail: String
  }

  let page: Page

  // MARK: Layout

  static let timelineWidth = 880
  static let rowHeight = 26
  static let barHeight = 16

  init(_ report: AudienceReport) {
    let summary = report.summary
    let people = report.people.sorted { ($0.firstPTS ?? 0, $0.trackID) < ($1.firstPTS ?? 0, $1.trackID) }
    let span = max(1, report.end > report.start ? report.end - report.start : 1)
    page = Page(
      title: report.title,
      headline: [
        Figure(value: "\(summary.people)", label: summary.people == 1 ? "person" : "people"),
        Figure(value: "\(summary.female)", label: "female"),
        Figure(value: "\(summary.male)", label: "male"),
        Figure(value: Self.seconds(summary.meanDwell), label: "mean dwell"),
        Figure(value: Self.seconds(summary.maxDwell), label: "longest dwell"),
        Figure(value: Self.seconds(span), label: "video analysed (\(report.frames) frames)"),
      ],
      timeline: Self.timeline(people, start: report.start, span: span),
      histogram: Self.histogram(summary),
      gallery: people.map { person in
        Portrait(
          trackID: person.trackID, gender: person.gender.rawValue,
          image: report.faces[person.trackID].map(Self.jpegURI) ?? Self.placeholderURI(person.gender),
          caption: person.label,
          detail: "\(Self.seconds(person.dwell)) in view, from \(Self.seconds(person.firstPTS.map { $0 > report.start ? $0 - report.start : 0 } ?? 0)), track \(person.trackID)")
      },
      nobody: people.isEmpty)
  }

  static func seconds(_ nanoseconds: UInt64) -> String {
    String(format: "%.1f s", Double(nanoseconds) / 1e9)
  }

  static func number(_ value: Double) -> String { String(format: "%.1f", value) }

  /// One row per person, in order of appearance; the bar spans its dwell time.
  static func timeline(_ people: [PersonTrack], start: UInt64, span: UInt64) -> Timeline {
    let left = 16, right = timelineWidth - 16
    let plot = Double(right - left)
    let axisY = 8 + max(1, people.count) * rowHeight + 6
    func x(_ t: UInt64) -> Double { Double(left) + plot * Double(t > start ? t - start : 0) / Double(span) }
    var bars: [TimelineBar] = []
    for (row, person) in people.enumerated() {
      let first = person.firstPTS ?? start
      let begin = x(first)
      let width = max(3, plot * Double(person.dwell) / Double(span))
      let y = 8 + row * rowHeight
      let label = person.label
      // The label goes after the bar; a bar reaching the right edge holds it inside, or has it before.
      let after = begin + width + 6
      let place = after + 110 <= Double(right) ? "after" : width >= 110 ? "inside" : "before"
      let labelX = place == "after" ? after : place == "inside" ? begin + 6 : begin - 6
      bars.append(
        TimelineBar(
          trackID: person.trackID, gender: person.gender.rawValue, x: number(begin), y: y, width: number(width),
          height: barHeight, label: label, labelX: number(labelX), labelY: y + barHeight - 4,
          labelPlace: place, labelAnchor: place == "before" ? "end" : "start",
          tooltip: "\(label): \(seconds(person.dwell)) (track \(person.trackID))"))
    }
    // About six ticks at a round step.
    let total = Double(span) / 1e9
    let step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].first { total / $0 <= 8 } ?? 7200
    var ticks: [Tick] = []
    var t = 0.0
    while t <= total + 1e-9 {
      ticks.append(Tick(x: number(Double(left) + plot * t / total), label: step < 1 ? String(format: "%.1f s", t) : "\(Int(t)) s"))
      t += step
    }
    return Timeline(
      width: timelineWidth, height: axisY + 24, axisY: axisY, plotLeft: left, plotRight: right, ticks: ticks, bars: bars)
  }

  /// Two bars (female, male) per age bracket, scaled to the largest count.
  static func histogram(_ summary: AudienceSummary) -> Histogram {
    let width = 560, height = 240, baseline = 200, top = 20, left = 36
    let largest = max(1, summary.brackets.map { max($0.female, $0.male) }.max() ?? 1)
    let slot = Double(width - left - 8) / Double(summary.brackets.count)
    let barWidth = slot * 0.36
    func y(_ count: Int) -> Double { Double(baseline) - Double(baseline - top) * Double(count) / Double(largest) }
    let groups = summary.brackets.enumerated().map { index, entry -> BracketGroup in
      let slotLeft = Double(left) + slot * Double(index)
      let centre = slotLeft + slot / 2
      let bars = [("female", entry.female, centre - barWidth - 1), ("male", entry.male, centre + 1)].map { gender, count, x in
        HistogramBar(
          gender: gender, count: count, x: number(x), y: number(y(count)), width: number(barWidth),
          height: number(Double(baseline) - y(count)), countY: number(y(count) - 4), centerX: number(x + barWidth / 2))
      }
      return BracketGroup(name: entry.bracket.name, centerX: number(centre), bars: bars)
    }
    let step = max(1, Int((Double(largest) / 4).rounded(.up)))
    let gridlines = stride(from: 0, through: largest, by: step).map { Gridline(y: number(y($0)), label: $0) }
    return Histogram(width: width, height: height, baseline: baseline, groups: groups, gridlines: gridlines)
  }

  static func jpegURI(_ bytes: [UInt8]) -> String {
    "data:image/jpeg;base64," + Data(bytes).base64EncodedString()
  }

  /// A drawn head in the gender's colour, for a person whose face was not captured.
  static func placeholderURI(_ gender: Gender) -> String {
    let colour = gender == .female ? "#c2255c" : "#1864ab"
    let svg =
      "<svg xmlns='http://www.w3.org/2000/svg' width='96' height='96' viewBox='0 0 96 96'>"
      + "<rect width='96' height='96' fill='#e9ecef'/><circle cx='48' cy='38' r='18' fill='\(colour)'/>"
      + "<rect x='20' y='62' width='56' height='34' rx='16' fill='\(colour)'/></svg>"
    return "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString()
  }
}
