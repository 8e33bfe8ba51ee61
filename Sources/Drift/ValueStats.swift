/// One-sided figures for a single tensor (or layer): the health check of `inspect --stats`,
/// and the NaN/Inf count of weights that have no partner to compare with.
public struct ValueStats: Sendable, Equatable {
    public var count = 0
    public var nanCount = 0
    public var infCount = 0
    public var zeroCount = 0
    public var sum = 0.0
    public var sumSquares = 0.0
    /// Over finite values; nil when there are none.
    public var min: Double?
    public var max: Double?

    public init() {}

    public mutating func accumulate(_ values: [Double]) {
        count += values.count
        var start = 0
        while start < values.count {
            let end = Swift.min(start + DriftSums.block, values.count)
            var s = 0.0, ss = 0.0
            var low = min ?? .infinity, high = max ?? -.infinity
            for i in start..<end {
                let v = values[i]
                if v.isFinite {
                    s += v
                    ss += v * v
                    low = Swift.min(low, v)
                    high = Swift.max(high, v)
                    if v == 0 { zeroCount += 1 }
                } else if v.isNaN {
                    nanCount += 1
                } else {
                    infCount += 1
                }
            }
            sum += s
            sumSquares += ss
            if low <= high { min = low; max = high }
            start = end
        }
    }

    public mutating func merge(_ other: ValueStats) {
        count += other.count
        nanCount += other.nanCount
        infCount += other.infCount
        zeroCount += other.zeroCount
        sum += other.sum
        sumSquares += other.sumSquares
        if let low = other.min { min = Swift.min(min ?? low, low) }
        if let high = other.max { max = Swift.max(max ?? high, high) }
    }

    public var finiteCount: Int { count - nanCount - infCount }
    /// L2 norm of the finite values; nil when there are values and none is finite.
    public var norm: Double? { count > 0 && finiteCount == 0 ? nil : sumSquares.squareRoot() }
    public var mean: Double? { finiteCount > 0 ? sum / Double(finiteCount) : nil }
    public var rms: Double? { finiteCount > 0 ? (sumSquares / Double(finiteCount)).squareRoot() : nil }
    public var nonFinite: Int { nanCount + infCount }
}
