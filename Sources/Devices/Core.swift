// The common ground of the device models: virtual time with timed events, the
// port-device door, output lines, and the trace sink. Nothing here knows a CPU.

/// Something that answers I/O port reads and writes. Devices claim port
/// ranges on the board; `size` is 1, 2 or 4.
public protocol PortDevice: AnyObject {
    func ioRead(_ port: UInt16, size: Int) -> UInt32
    func ioWrite(_ port: UInt16, size: Int, value: UInt32)
}

/// An output line (IRQ line, PIC INT, PIT OUT, reset, A20 ...). The owner of
/// the input wires the closure; it is called on every level written (devices
/// may call it with an unchanged level; receivers must handle that).
public typealias LineOutput = (Bool) -> Void

/// Virtual time in nanoseconds and the timed events devices ask for.
/// The board advances `now`; devices never read the wall clock.
public final class VirtualClock {
    public typealias TimerID = Int
    /// Current virtual time, ns. Set by the board before every device access.
    public var now: UInt64 = 0

    private var names: [String] = []
    private var handlers: [(UInt64) -> Void] = []
    private var deadlines: [UInt64] = []
    /// Earliest pending deadline (UInt64.max when none).
    public private(set) var nextDeadline: UInt64 = .max
    /// Called whenever `nextDeadline` moves earlier (the board shortens the CPU slice).
    public var onEarlierDeadline: ((UInt64) -> Void)?

    public init() {}

    /// Registers a timer; `fire` is called with the deadline when it is due.
    public func makeTimer(_ name: String, _ fire: @escaping (UInt64) -> Void) -> TimerID {
        names.append(name); handlers.append(fire); deadlines.append(.max)
        return handlers.count - 1
    }

    public func schedule(_ t: TimerID, at time: UInt64) {
        deadlines[t] = time
        if time < nextDeadline {
            nextDeadline = time
            onEarlierDeadline?(time)
        }
    }

    public func cancel(_ t: TimerID) {
        let old = deadlines[t]
        deadlines[t] = .max
        if old == nextDeadline { recompute() }
    }

    public func deadline(_ t: TimerID) -> UInt64 { deadlines[t] }
    public func name(_ t: TimerID) -> String { names[t] }

    private func recompute() {
        var m = UInt64.max
        for d in deadlines where d < m { m = d }
        nextDeadline = m
    }

    /// Fires every timer whose deadline is <= `now`, earliest first, ties by
    /// registration order (deterministic). A handler may reschedule.
    public func runDue() {
        while nextDeadline <= now {
            var best = -1
            var bestT = UInt64.max
            for i in 0..<deadlines.count where deadlines[i] < bestT {
                bestT = deadlines[i]; best = i
            }
            guard best >= 0, bestT <= now else { recompute(); return }
            deadlines[best] = .max
            recompute()
            let saved = now
            now = bestT          // the handler sees its own deadline as "now"
            handlers[best](bestT)
            now = saved
        }
    }
}

/// Trace categories (a bit set).
public struct TraceCategory: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let irq = TraceCategory(rawValue: 1 << 0)   // device IRQ lines
    public static let pic = TraceCategory(rawValue: 1 << 1)
    public static let pit = TraceCategory(rawValue: 1 << 2)
    public static let kbd = TraceCategory(rawValue: 1 << 3)   // 8042, keyboard, mouse
    public static let exc = TraceCategory(rawValue: 1 << 4)   // CPU exceptions
    public static let io = TraceCategory(rawValue: 1 << 5)    // port I/O
    public static let cpu = TraceCategory(rawValue: 1 << 6)   // interrupts, iret, hlt, modes, tables
    public static let rtc = TraceCategory(rawValue: 1 << 7)
    public static let uart = TraceCategory(rawValue: 1 << 8)
    public static let vga = TraceCategory(rawValue: 1 << 9)
    public static let diag = TraceCategory(rawValue: 1 << 10) // diagnoses
    public static let all = TraceCategory(rawValue: 0x7FF)

    public static let names: [(String, TraceCategory)] = [
        ("irq", .irq), ("pic", .pic), ("pit", .pit), ("kbd", .kbd), ("exc", .exc), ("io", .io),
        ("cpu", .cpu), ("rtc", .rtc), ("uart", .uart), ("vga", .vga), ("diag", .diag), ("all", .all),
    ]
}

/// A field value in a trace event.
public enum TraceValue: Equatable, Sendable {
    case int(Int64)
    case hex(UInt64, digits: Int)
    case str(String)
    case bool(Bool)
}

/// One event: a category, a short name ("eoi", "inta", "out-edge", ...) and
/// named fields, in order. The board stamps it with time and instruction count.
public struct TraceEvent: Equatable, Sendable {
    public var category: TraceCategory
    public var name: String
    public var fields: [(String, TraceValue)]
    public init(_ category: TraceCategory, _ name: String, _ fields: [(String, TraceValue)] = []) {
        self.category = category; self.name = name; self.fields = fields
    }
    public static func == (a: TraceEvent, b: TraceEvent) -> Bool {
        a.category == b.category && a.name == b.name && a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

/// Where devices send events. `enabled` is checked before building an event,
/// so tracing costs one load and branch when off.
public final class TraceSink {
    public var enabled: TraceCategory = []
    /// Receives every event whose category is enabled.
    public var handler: ((TraceEvent) -> Void)?
    public init() {}

    @inline(__always)
    public func wants(_ c: TraceCategory) -> Bool { !enabled.isDisjoint(with: c) }

    public func emit(_ e: TraceEvent) {
        if wants(e.category) { handler?(e) }
    }
}

/// Helpers to build fields tersely.
public func hex8(_ v: UInt8) -> TraceValue { .hex(UInt64(v), digits: 2) }
public func hex16(_ v: UInt16) -> TraceValue { .hex(UInt64(v), digits: 4) }
