import Foundation

/// One symbol of the kernel's ELF symbol table.
public struct Symbol: Equatable, Sendable {
    public var address: UInt64
    public var size: UInt64
    /// The name as stored in the ELF file (mangled for Swift).
    public var name: String
    /// Swift names demangled (simplified form); other names as they are.
    public var demangled: String
    public var isFunction: Bool

    public init(address: UInt64, size: UInt64, name: String, demangled: String? = nil, isFunction: Bool = true) {
        self.address = address; self.size = size; self.name = name
        self.demangled = demangled ?? name; self.isFunction = isFunction
    }

    /// The demangled name without "static ", argument labels and
    /// parameter lists: "Exceptions.handle" for
    /// "static Exceptions.handle(vector:errorCode:frame:)".
    public var baseName: String {
        var s = Substring(demangled)
        if s.hasPrefix("static ") { s = s.dropFirst(7) }
        if let p = s.firstIndex(of: "(") { s = s[..<p] }
        if let r = s.range(of: " : ") { s = s[..<r.lowerBound] }
        return String(s)
    }
}

/// The kernel's symbols, for breakpoints by name and for naming addresses.
public final class SymbolTable {
    /// Sorted by address.
    public private(set) var symbols: [Symbol]

    public init(symbols: [Symbol] = []) {
        self.symbols = symbols.sorted { $0.address != $1.address ? $0.address < $1.address : ($0.isFunction && !$1.isFunction) }
    }

    public var isEmpty: Bool { symbols.isEmpty }
    public var count: Int { symbols.count }

    // MARK: loading

    /// Reads the symbol table of an ELF32/ELF64 little-endian image. Swift
    /// names are demangled with the toolchain's `swift-demangle` when it is
    /// found (`demangler` nil), or with the given function.
    public static func load(elf bytes: [UInt8], demangler: (([String]) -> [String]?)? = nil) -> SymbolTable {
        var syms = parseELF(bytes)
        let mangled = syms.indices.filter { isSwiftMangled(syms[$0].name) }
        if !mangled.isEmpty {
            let names = mangled.map { syms[$0].name }
            let out = demangler.map { $0(names) } ?? SwiftDemangler.demangle(names)
            if let out = out, out.count == names.count {
                for (k, i) in mangled.enumerated() where !out[k].isEmpty { syms[i].demangled = out[k] }
            }
        }
        return SymbolTable(symbols: syms)
    }

    static func isSwiftMangled(_ n: String) -> Bool {
        n.hasPrefix("$s") || n.hasPrefix("$e") || n.hasPrefix("$S") || n.hasPrefix("_$s") || n.hasPrefix("_T0")
            || n.hasPrefix("$E") || n.hasPrefix("_$e")
    }

    /// The raw symbols of an ELF file (functions, objects and untyped labels
    /// defined in a section). Empty for anything that is not ELF.
    public static func parseELF(_ b: [UInt8]) -> [Symbol] {
        guard b.count >= 52, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46, b[5] == 1 else { return [] }
        let is64 = b[4] == 2
        func u16(_ o: Int) -> UInt64 { o >= 0 && o + 2 <= b.count ? UInt64(b[o]) | UInt64(b[o + 1]) << 8 : 0 }
        func u32(_ o: Int) -> UInt64 { o >= 0 && o + 4 <= b.count ? u16(o) | u16(o + 2) << 16 : 0 }
        func u64(_ o: Int) -> UInt64 { o >= 0 && o + 8 <= b.count ? u32(o) | u32(o + 4) << 32 : 0 }
        func word(_ o: Int) -> UInt64 { is64 ? u64(o) : u32(o) }
        if is64 && b.count < 64 { return [] }
        let shoff = Int(clamping: word(is64 ? 0x28 : 0x20))
        let shentsize = Int(u16(is64 ? 0x3A : 0x2E))
        let shnum = Int(u16(is64 ? 0x3C : 0x30))
        guard shoff > 0, shentsize >= (is64 ? 64 : 40), shnum > 0, shnum < 65536 else { return [] }
        struct Section { var type: UInt64; var offset: Int; var size: Int; var link: Int; var entsize: Int }
        var sections: [Section] = []
        for i in 0..<shnum {
            // Offsets and sizes come from the file: compare without adding
            // to them (a 64-bit e_shoff near 2^63 would overflow).
            let o = shoff &+ i &* shentsize
            guard o >= 0, o <= b.count - shentsize else { return [] }
            if is64 {
                sections.append(Section(type: u32(o + 4), offset: Int(clamping: u64(o + 0x18)), size: Int(clamping: u64(o + 0x20)),
                                        link: Int(u32(o + 0x28)), entsize: Int(clamping: u64(o + 0x38))))
            } else {
                sections.append(Section(type: u32(o + 4), offset: Int(u32(o + 0x10)), size: Int(u32(o + 0x14)),
                                        link: Int(u32(o + 0x18)), entsize: Int(u32(o + 0x24))))
            }
        }
        guard let symtab = sections.first(where: { $0.type == 2 }) ?? sections.first(where: { $0.type == 11 }),
              symtab.link < sections.count else { return [] }
        let strtab = sections[symtab.link]
        let entsize = max(symtab.entsize, is64 ? 24 : 16)
        guard symtab.offset >= 0, symtab.size >= 0, symtab.offset <= b.count,
              strtab.offset >= 0, strtab.offset <= b.count else { return [] }
        let count = min(symtab.size, b.count - symtab.offset) / entsize
        var out: [Symbol] = []
        for i in 0..<count {
            let o = symtab.offset + i * entsize
            let nameOff: Int, value: UInt64, size: UInt64, info: UInt8, shndx: UInt64
            if is64 {
                nameOff = Int(u32(o)); info = b[o + 4]; shndx = u16(o + 6); value = u64(o + 8); size = u64(o + 16)
            } else {
                nameOff = Int(u32(o)); value = u32(o + 4); size = u32(o + 8); info = b[o + 12]; shndx = u16(o + 14)
            }
            let type = info & 0xF
            guard type <= 2, shndx != 0, shndx < 0xFF00, nameOff > 0, nameOff < strtab.size else { continue }
            var end = strtab.offset + nameOff
            let start = end
            let limit = strtab.size < b.count - strtab.offset ? strtab.offset + strtab.size : b.count
            while end < limit && b[end] != 0 { end += 1 }
            guard end > start else { continue }
            let name = String(decoding: b[start..<end], as: UTF8.self)
            if name.hasPrefix(".L") || name.hasPrefix("$x") || name.hasPrefix("$d") { continue }
            out.append(Symbol(address: value, size: size, name: name, isFunction: type == 2 || type == 0))
        }
        return out
    }

    // MARK: lookup

    /// The symbol an address falls in, with the offset into it.
    public func lookup(_ addr: UInt64) -> (symbol: Symbol, offset: UInt64)? {
        var lo = 0, hi = symbols.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if symbols[mid].address <= addr { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        // Among symbols at the same address prefer a function.
        guard i >= 0 else { return nil }
        let at = symbols[i].address
        var j = i
        while j >= 0 && symbols[j].address == at {
            if symbols[j].isFunction { i = j }
            j -= 1
        }
        let s = symbols[i]
        let off = addr - s.address
        if s.size > 0 {
            if off >= s.size { return nil }
        } else if off >= 0x10000 {
            return nil
        }
        return (s, off)
    }

    /// "name" or "name+0x1f" for an address, nil when no symbol covers it.
    public func describe(_ addr: UInt64) -> String? {
        guard let (s, off) = lookup(addr) else { return nil }
        return off == 0 ? s.demangled : s.demangled + "+0x" + String(off, radix: 16)
    }

    public enum ResolveError: Error, Equatable, CustomStringConvertible {
        case notFound(String)
        case ambiguous(String, [String])
        public var description: String {
            switch self {
            case .notFound(let n): return "no symbol matches '\(n)'"
            case .ambiguous(let n, let c):
                return "'\(n)' is ambiguous; it matches:\n  " + c.prefix(12).joined(separator: "\n  ")
                    + (c.count > 12 ? "\n  ... (\(c.count - 12) more)" : "")
            }
        }
    }

    /// Finds the symbol a name means: the raw (mangled) name, the full
    /// demangled name, the demangled name without parameters
    /// ("Shell.run", "kernelMain"), its last component ("run" if only one
    /// function has it), then a unique substring of demangled function names.
    public func resolve(_ query: String) -> Result<Symbol, ResolveError> {
        let q = query.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty else { return .failure(.notFound(query)) }
        let ranks: [(Symbol) -> Bool] = [
            { $0.name == q },
            { $0.demangled == q },
            { $0.baseName == q },
            { $0.isFunction && ($0.baseName.hasSuffix("." + q)) },
            { $0.isFunction && $0.demangled.contains(q) },
            { $0.isFunction && $0.name.contains(q) },
        ]
        for rank in ranks {
            let found = symbols.filter(rank)
            if found.isEmpty { continue }
            let addrs = Set(found.map(\.address))
            if addrs.count == 1 { return .success(found.first(where: \.isFunction) ?? found[0]) }
            return .failure(.ambiguous(q, found.map { "0x" + String($0.address, radix: 16) + " " + $0.demangled }))
        }
        return .failure(.notFound(q))
    }
}

/// Runs the toolchain's `swift-demangle` once for a list of names.
public enum SwiftDemangler {
    /// The demangler binary: `swift-demangle` on PATH or beside `swift`.
    public static func executable() -> (String, [String])? {
        let env = ProcessInfo.processInfo.environment
        let path = (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        let fm = FileManager.default
        for d in path where fm.isExecutableFile(atPath: d + "/swift-demangle") {
            return (d + "/swift-demangle", [])
        }
        for d in path where fm.isExecutableFile(atPath: d + "/swift") {
            let real = URL(fileURLWithPath: d + "/swift").resolvingSymlinksInPath().deletingLastPathComponent().path
            if fm.isExecutableFile(atPath: real + "/swift-demangle") { return (real + "/swift-demangle", []) }
            return (d + "/swift", ["demangle"])
        }
        return nil
    }

    /// Simplified demangled names, one per input; nil when no demangler runs.
    public static func demangle(_ names: [String]) -> [String]? {
        guard let (exe, pre) = executable() else { return nil }
        let input = names.joined(separator: "\n") + "\n"
        let tmp = NSTemporaryDirectory() + "swiftemu-demangle-\(getpid())-\(UInt32.random(in: 0 ... .max)).txt"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(input.utf8)) else { return nil }
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        guard let inHandle = FileHandle(forReadingAtPath: tmp) else { return nil }
        defer { try? inHandle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = pre + ["--simplified"]
        p.standardInput = inHandle
        let outPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines.count == names.count ? lines : nil
    }
}
