import FaceAnalysis
import Foundation
import XCTest

// TEMPORARY exploration (helper h5); deleted before handing back.
final class SeedExploreTmpTests: XCTestCase {
  func testExplore() throws {
    let store = ModelStore(directory: Fixtures.modelDirectory)
    let lh = try LeviHassnerClassifier(store: store)
    let cy = try CydralAgeGenderClassifier(store: store)
    let astro = try OwnedImage(contentsOf: Fixtures.astronautPath)
    let plain = try HaarFaceDetector()
    let weighted = try HaarFaceDetector(levelWeightConfidence: true)
    let hb = try plain.detect(in: astro.view, threshold: 0)
    print("astronaut haar \(hb) iou \(hb.map { $0.box.iou(Fixtures.astronautFace) }) weighted \(try weighted.detect(in: astro.view, threshold: 0))")
    print("LH on haar box \(try lh.classify(astro.view, faces: hb.map(\.box))) probs \(try lh.probabilities(astro.view, faces: hb.map(\.box)))")
    print("Cydral on haar box \(try cy.classify(astro.view, faces: hb.map(\.box)))")
    let ssd = try SSDFaceDetector(store: store)
    let sb = try ssd.detect(in: astro.view, threshold: 0.5)
    print("LH on ssd box \(try lh.classify(astro.view, faces: sb.map(\.box))) probs \(try lh.probabilities(astro.view, faces: sb.map(\.box)))")
    let text = try String(contentsOfFile: Fixtures.facesDirectory + "/labels.csv", encoding: .utf8)
    let rows = text.split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    var images: [OwnedImage] = []
    for row in rows { images.append(try OwnedImage(contentsOf: Fixtures.facesDirectory + "/" + row[0])) }
    var same = 0
    for img in images where try plain.detect(in: img.view, threshold: 0).map(\.box) == weighted.detect(in: img.view, threshold: 0).map(\.box) { same += 1 }
    print("same boxes plain vs weighted: \(same)/\(images.count)")
    for round in 0..<2 {
      for (name, d) in [("plain", plain), ("weighted", weighted)] {
        let s = Date()
        for img in images { _ = try d.detect(in: img.view, threshold: 0) }
        print("round \(round) \(name): \(Int(1000 * Date().timeIntervalSince(s) / Double(images.count))) ms/img")
      }
    }
    var multi: [String] = []
    for (row, img) in zip(rows, images) { let n = try plain.detect(in: img.view, threshold: 0).count; if n >= 2 { multi.append("\(row[0]):\(n)") } }
    print("haar multi-face images: \(multi)")
    let s = Date()
    for img in images { _ = try lh.classify(img.view, faces: [Box(x: 100, y: 100, width: 200, height: 200)]) }
    print("LH classify 1 face: \(Int(1000 * Date().timeIntervalSince(s) / Double(images.count))) ms")
    let s2 = Date()
    for img in images { _ = try lh.classify(img.view, faces: Array(repeating: Box(x: 100, y: 100, width: 200, height: 200), count: 4)) }
    print("LH classify 4 faces: \(Int(1000 * Date().timeIntervalSince(s2) / Double(images.count))) ms")
  }
}
