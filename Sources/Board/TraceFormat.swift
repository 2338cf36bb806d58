import Foundation
import CPU
import Devices

/// Text and JSON Lines renderings of stamped trace events.
///
/// Text: `[   0.054925430 #5492543] pic inta vector=0x20 irq=0 spurious=false`
///   (virtual seconds with ns precision, retired-instruction count, category,
///   event name, fields in order).
/// JSON Lines: `{"t_ns":54925430,"insn":5492543,"cat":"pic","ev":"inta","vector":32,"irq":0,"spurious":false}`
///   (numbers as JSON numbers, hex fields as numbers too, strings escaped).
public enum TraceFormat: String, Sendable {
    case text, jsonl

    public static func categoryName(_ c: TraceCategory) -> String {
        for (n, v) in TraceCategory.names where v == c { return n }
        return "misc"
    }

    public static func parseCategories(_ s: String) -> TraceCategory? {
        var set: TraceCategory = []
        for part in s.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard let c = TraceCategory.names.first(where: { $0.0 == name })?.1 else { return nil }
            set.formUnion(c)
        }
        return set
    }

    public func render(_ e: PC.StampedEvent) -> String {
        switch self {
        case .text:
            var s = "[" + TraceFormat.seconds(e.time) + " #" + String(e.instructions) + "] "
            s += TraceFormat.categoryName(e.event.category) + " " + e.event.name
            for (k, v) in e.event.fields {
                s += " " + k + "=" + TraceFormat.textValue(v)
            }
            return s
        case .jsonl:
            var s = "{\"t_ns\":\(e.time),\"insn\":\(e.instructions),\"cat\":\"\(TraceFormat.categoryName(e.event.category))\",\"ev\":" + TraceFormat.jsonString(e.event.name)
            for (k, v) in e.event.fields {
                s += "," + TraceFormat.jsonString(k) + ":" + TraceFormat.jsonValue(v)
            }
            return s + "}"
        }
    }

    public static func seconds(_ ns: UInt64) -> String {
        let sec = String(ns / 1_000_000_000)
        var frac = String(ns % 1_000_000_000)
        while frac.count < 9 { frac = "0" + frac }
        let padded = String(repeating: " ", count: max(0, 4 - sec.count)) + sec
        return padded + "." + frac
    }

    static func textValue(_ v: TraceValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .hex(let h, let d):
            var s = String(h, radix: 16)
            while s.count < d { s = "0" + s }
            return "0x" + s
        case .str(let s): return s.contains(" ") ? "\"" + s + "\"" : s
        case .bool(let b): return b ? "yes" : "no"
        }
    }

    static func jsonValue(_ v: TraceValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .hex(let h, _): return String(h)
        case .str(let s): return jsonString(s)
        case .bool(let b): return b ? "true" : "false"
        }
    }

    public static func jsonString(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    o += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    o.unicodeScalars.append(u)
                }
            }
        }
        return o + "\""
    }
}

extension CPUEvent {
    /// The category of `traceEvent`, without building it.
    public var traceCategory: TraceCategory {
        switch self {
        case .exception, .doubleFault, .unimplemented: return .exc
        case .interrupt, .iret, .halt, .modeChange, .descriptorTable, .interruptFlag: return .cpu
        }
    }

    /// The trace form of a CPU event.
    public var traceEvent: TraceEvent {
        func h(_ v: UInt64) -> TraceValue { .hex(v, digits: 1) }
        switch self {
        case .exception(let v, let e, let rip, let cr2):
            var f: [(String, TraceValue)] = [("vector", .int(Int64(v))), ("name", .str(CPUEvent.exceptionName(v))), ("rip", h(rip))]
            if let e = e { f.append(("error", .hex(UInt64(e), digits: 4))) }
            if v == 14 { f.append(("cr2", h(cr2))) }
            return TraceEvent(.exc, "exception", f)
        case .interrupt(let v, let ext, let rip, let present):
            return TraceEvent(.cpu, "interrupt", [("vector", .int(Int64(v))), ("external", .bool(ext)), ("rip", h(rip)), ("gate", .bool(present))])
        case .doubleFault(let a, let b):
            return TraceEvent(.exc, "double-fault", [("first", .int(Int64(a))), ("second", .int(Int64(b)))])
        case .iret(let rip):
            return TraceEvent(.cpu, "iret", [("rip", h(rip))])
        case .halt(let ie, let rip):
            return TraceEvent(.cpu, "hlt", [("if", .bool(ie)), ("rip", h(rip))])
        case .modeChange(let m):
            return TraceEvent(.cpu, "mode", [("mode", .str(m))])
        case .descriptorTable(let k, let base, let limit):
            return TraceEvent(.cpu, "load-" + k.lowercased(), [("base", h(base)), ("limit", .hex(UInt64(limit), digits: 4))])
        case .interruptFlag(let en, let rip):
            // STI/CLI, or POPF/IRET/SYSRET changing IF: `rip` is where
            // execution goes on.
            return TraceEvent(.cpu, "if", [("on", .bool(en)), ("rip", h(rip))])
        case .unimplemented(let bytes, let rip):
            return TraceEvent(.exc, "unimplemented", [("rip", h(rip)), ("bytes", .str(bytes.map { String($0, radix: 16) }.joined(separator: " ")))])
        }
    }

    public static func exceptionName(_ v: UInt8) -> String {
        let names = ["#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
                     "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
                     "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
                     "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
                     "#XM SIMD error", "#VE virtualization", "#CP control protection"]
        return Int(v) < names.count ? names[Int(v)] : "vector \(v)"
    }
}
