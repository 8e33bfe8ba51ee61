import CHDF5
import Foundation
import HDF5
import SampleFixtures
import Testing

@Suite struct HDF5Tests {
    @Test func readsStringAttributesOfEveryFlavour() throws {
        let file = try File.open(Samples.path("tfk/pretrained.h5"))
        let root = try file.root()
        #expect(try root.attribute("keras_version")?.string?.hasPrefix("2.") == true)      // vlen UTF-8 scalar
        #expect(try root.attribute("model_config")?.string?.hasPrefix("{") == true)        // vlen ASCII, long
        let names = try file.group("/model_weights").attribute("layer_names")?.stringList   // vlen 1-D
        #expect(names?.contains("conv2d") == true)
        // A weightless layer's empty name list is a 0-element float64 attribute.
        let dropout = try file.group("/model_weights/dropout").attribute("weight_names")
        #expect(dropout?.stringList == [])
        #expect(try root.attribute("no_such_attribute") == nil)
    }

    @Test func chunkedNameAttributesAreFixedLengthPieces() throws {
        let root = try File.open(Samples.path("edge/chunked_names_tfk.h5")).group("/model_weights")
        #expect(try root.attribute("layer_names") == nil)
        let first = try #require(try root.attribute("layer_names0")?.stringList)
        let second = try #require(try root.attribute("layer_names1")?.stringList)
        #expect(first.count + second.count >= 2)
        #expect((first + second).allSatisfy { !$0.contains("\0") && !$0.isEmpty })
    }

    @Test func describesDatasets() throws {
        let file = try File.open(Samples.path("tfk/pretrained.h5"))
        let kernel = try file.dataset("/model_weights/conv2d/conv2d/kernel:0")
        #expect(kernel.shape == [3, 3, 1, 8])
        #expect(kernel.elementType == .float(size: 4, layout: .ieeeSingle))
        #expect(kernel.count == 3 * 3 * 1 * 8)
        if case .contiguous(let offset) = try kernel.storage { #expect(offset != nil) } else { Issue.record("not contiguous") }
        let repacked = try File.open(Samples.path("edge/repacked_gzip.h5")).dataset("/model_weights/dense/dense/kernel:0")
        #expect(try repacked.storage == .chunked(filters: [2, 1]))
    }

    @Test func byteRangeDriverReadsAZipMemberInPlace() throws {
        // The stored member of a .keras archive, opened at its offset, equals the same bytes as a file.
        let archive = try Data(contentsOf: URL(fileURLWithPath: Samples.path("k3/pretrained.keras")))
        let signature = Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A])
        let start = try #require(archive.range(of: signature)?.lowerBound)
        let copy = try Samples.temporaryDirectory().appendingPathComponent("member.h5")
        try archive[start...].write(to: copy)
        let inPlace = try File.open(Samples.path("k3/pretrained.keras"), byteRange: (UInt64(start), UInt64(archive.count - start)))
        let extracted = try File.open(copy.path)
        var a: [Float] = [], b: [Float] = []
        let dataset = try inPlace.dataset("/layers/dense/vars/0")
        try dataset.read(dataset.all, into: &a)
        try extracted.dataset("/layers/dense/vars/0").read(dataset.all, into: &b)
        #expect(a.count == dataset.count && a.count > 1000)
        #expect(a == b)
    }

    /// Slices cover a dataset in row-major order, never above the limit (unless one element of the
    /// last dimension's run is all there is), whatever the shape.
    @Test(arguments: [1, 5, 7, 8, 64, 100, 1 << 16])
    func slicesCoverTheDatasetInOrderWithinTheLimit(_ limit: Int) throws {
        let file = try File.open(Samples.path("tfk/pretrained.h5"))
        for path in ["/model_weights/conv2d/conv2d/kernel:0", "/model_weights/dense/dense/kernel:0",
                     "/model_weights/dense/dense/bias:0", "/optimizer_weights/iteration:0"] {
            let dataset = try file.dataset(path)
            var whole: [Double] = []
            try dataset.read(dataset.all, into: &whole)
            var pieces: [Double] = [], piece: [Double] = []
            let plan = dataset.slices(maxElements: limit)
            #expect(Array(plan).count == plan.total, "\(path) at limit \(limit)")
            for selection in plan {
                #expect(selection.elementCount <= max(limit, 1), "\(path) \(selection)")
                try dataset.read(selection, into: &piece)
                #expect(piece.count == selection.elementCount)
                pieces += piece
            }
            #expect(pieces == whole, "\(path) at limit \(limit)")
        }
    }

    /// A group with more links than any Keras file has (10^6 took minutes to walk) is refused
    /// from the count libhdf5 reports, before a single name is listed. Written here with the
    /// library itself: 100,001 soft links, a few MB in a temporary folder.
    @Test func groupWithTooManyLinksIsRefusedBeforeListing() throws {
        let path = try Samples.temporaryDirectory().appendingPathComponent("links.h5").path
        let fapl = H5Pcreate(wd_H5P_FILE_ACCESS())
        _ = H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110)
        let fid = H5Fcreate(path, wd_H5F_ACC_TRUNC(), wd_H5P_DEFAULT(), fapl)
        try #require(fid >= 0)
        let gid = H5Gcreate2(fid, "/many", wd_H5P_DEFAULT(), wd_H5P_DEFAULT(), wd_H5P_DEFAULT())
        for index in 0...Group.memberLimit {
            _ = H5Lcreate_soft("/many", gid, "l\(index)", wd_H5P_DEFAULT(), wd_H5P_DEFAULT())
        }
        _ = H5Gclose(gid)
        _ = H5Fclose(fid)
        _ = H5Pclose(fapl)
        let file = try File.open(path)
        let start = Date()
        do {
            _ = try file.group("/many").members()
            Issue.record("listed \(Group.memberLimit + 1) links")
        } catch let error as HDF5Error {
            #expect(error.code == .unsupported)
            #expect(error.object == "/many")
            #expect(error.message.contains("100001 links"), "\(error)")
        }
        #expect(Date().timeIntervalSince(start) < 1)
    }

    /// External links would open a file the user did not name: refused. Soft links stay inside
    /// the file and are followed (libhdf5 stops loops after 16).
    @Test func externalLinksAreNotFollowed() throws {
        let file = try File.open(Samples.path("bad/links.weights.h5"))
        #expect(try file.dataset("/layers/dense/vars/0").shape == [2, 2])
        #expect(try file.dataset("/layers/alias/vars/0").shape == [2, 2])
        do {
            _ = try file.group("/layers/outside")
            Issue.record("followed the external link")
        } catch let error as HDF5Error {
            #expect(error.code == .unsupported, "\(error)")
            #expect(error.object == "/layers/outside")
        }
        #expect(file.kind(of: "/layers/outside") == nil)
        #expect(file.kind(of: "/layers/dense") == .group)
    }

    @Test func errorsCarryTheFileTheObjectAndLibhdf5sStack() throws {
        let text = try Samples.temporaryDirectory().appendingPathComponent("text.h5")
        try Data("hello".utf8).write(to: text)
        do {
            _ = try File.open(text.path)
            Issue.record("opened a text file")
        } catch let error as HDF5Error {
            #expect(error.code == .cannotOpen)
            #expect(error.file == text.path)
            #expect(!error.stack.isEmpty)
        }
        let file = try File.open(Samples.path("tfk/pretrained.h5"))
        #expect(throws: HDF5Error.self) { try file.dataset("/model_weights/nope/kernel:0") }
        do {
            _ = try file.dataset("/model_weights/nope/kernel:0")
        } catch let error as HDF5Error {
            #expect(error.code == .notFound)
            #expect(error.object == "/model_weights/nope")
        }
    }
}
