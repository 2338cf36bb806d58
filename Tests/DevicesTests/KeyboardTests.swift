import XCTest
@testable import Devices

final class KeyboardTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    private func rawRig() -> KBCRig {
        let r = KBCRig()
        _ = r.ctl(0x60, 0x21)     // IRQ1, aux off, translation OFF
        return r
    }

    func testKBD01_ResetAcksThenBATCompletesLater() {
        let r = KBCRig()
        _ = r.kbd(0xED, 0x07)
        _ = r.kbd(0xF0, 0x03)
        let tw = r.clock.now
        r.data(0xFF)
        let first = r.drainTimed(within: 100 * ms)
        XCTAssertEqual(first.map(\.b), [0xFA], "only the ACK before the self-test ends")
        XCTAssertTrue(r.keyboard.inSelfTest)
        r.keyboard.press(.a)                    // ignored during BAT
        let rest = r.drainTimed(within: 1_000 * ms)
        XCTAssertEqual(rest.map(\.b), [0xAA])
        XCTAssertEqual(first[0].t, tw)
        XCTAssertEqual(rest[0].t, tw + r.keyboard.batDelayNs)
        XCTAssertEqual(r.keyboard.leds, 0)
        XCTAssertEqual(r.keyboard.scanCodeSet, 2)
        XCTAssertTrue(r.keyboard.scanning)
        XCTAssertEqual(r.kbd(0xF0, 0x00), [0xFA, 0xFA, 0x41])
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E])
    }

    func testKBD02_SetDefaultsRestoresTypematicAndSet2AndClearsBuffer() {
        let r = KBCRig()
        _ = r.kbd(0xF3, 0x00)
        _ = r.kbd(0xF0, 0x03)
        _ = r.kbd(0xF0, 0x02)
        _ = r.kbd(0xF0, 0x01)
        XCTAssertEqual(r.keyboard.typematic, 0x00)
        r.keyboard.press(.a)                   // in the OB (set 1: 1E, translated 1E->? raw set 1 through XLAT)
        r.keyboard.press(.b)                   // waiting in the keyboard
        r.keyboard.press(.c)
        let got = r.kbd(0xF6)
        XCTAssertEqual(got.count, 2, "the byte already in the OB, then FA: buffer cleared")
        XCTAssertEqual(got.last, 0xFA)
        XCTAssertEqual(r.keyboard.typematic, 0x2B)
        XCTAssertEqual(r.keyboard.typematicPeriodNs, 91_740_000)
        XCTAssertEqual(r.keyboard.typematicDelayNs, 500 * ms)
        XCTAssertEqual(r.keyboard.scanCodeSet, 2)
        XCTAssertTrue(r.keyboard.scanning)
        r.keyboard.releaseAll()
        r.tap(.d)
        XCTAssertEqual(r.drain().suffix(2), [0x20, 0xA0])
    }

    func testKBD03_DisableAcksAndStopsScanning() {
        let r = KBCRig()
        _ = r.kbd(0xF3, 0x1F)
        XCTAssertEqual(r.kbd(0xF5), [0xFA])
        XCTAssertFalse(r.keyboard.scanning)
        XCTAssertEqual(r.keyboard.typematic, 0x2B, "defaults loaded")
        r.tap(.a)
        XCTAssertEqual(r.drain(), [])
        XCTAssertEqual(r.kbd(0xF4), [0xFA])
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E])
    }

    func testKBD04_EnableAcksClearsBufferAndScans() {
        let r = KBCRig()
        r.keyboard.press(.a)                   // OB
        r.keyboard.press(.b)                   // keyboard buffer
        r.data(0xF4)
        XCTAssertEqual(r.drain(within: 100 * ms), [0x1E, 0xFA])
        XCTAssertTrue(r.keyboard.scanning)
        XCTAssertEqual(r.keyboard.buffer, [])
    }

    func testKBD05_SetLEDs() {
        let r = KBCRig()
        XCTAssertEqual(r.kbd(0xED), [0xFA])
        XCTAssertEqual(r.kbd(0x07), [0xFA])
        XCTAssertEqual(r.keyboard.leds, 7)
        XCTAssertEqual(r.kbd(0xED, 0x02), [0xFA, 0xFA])
        XCTAssertEqual(r.keyboard.leds, 2)
    }

    func testKBD06_EchoAnswersEEWithoutAck() {
        XCTAssertEqual(KBCRig().kbd(0xEE), [0xEE])
        XCTAssertEqual(rawRig().kbd(0xEE), [0xEE])
    }

    func testKBD07_GetScanCodeSetIsTranslated() {
        let r = KBCRig()
        XCTAssertEqual(r.kbd(0xF0, 0x00), [0xFA, 0xFA, 0x41])
        _ = r.kbd(0xF0, 0x01)
        XCTAssertEqual(r.kbd(0xF0, 0x00), [0xFA, 0xFA, 0x43])
        _ = r.kbd(0xF0, 0x03)
        XCTAssertEqual(r.kbd(0xF0, 0x00), [0xFA, 0xFA, 0x3F])
        let raw = rawRig()
        XCTAssertEqual(raw.kbd(0xF0, 0x00), [0xFA, 0xFA, 0x02])
    }

    func testKBD08_SelectScanCodeSet() {
        let r = rawRig()
        XCTAssertEqual(r.kbd(0xF0, 0x01), [0xFA, 0xFA])
        XCTAssertEqual(r.keyboard.scanCodeSet, 1)
        r.tap(.a)
        r.tap(.up)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E, 0xE0, 0x48, 0xE0, 0xC8])
        XCTAssertEqual(r.kbd(0xF0, 0x03), [0xFA, 0xFA])
        r.tap(.a)
        r.tap(.up)
        r.tap(.f1)
        XCTAssertEqual(r.drain(), [0x1C, 0xF0, 0x1C, 0x63, 0xF0, 0x63, 0x07, 0xF0, 0x07])
        XCTAssertEqual(r.kbd(0xF0, 0x02), [0xFA, 0xFA])
        r.tap(.up)
        XCTAssertEqual(r.drain(), [0xE0, 0x75, 0xE0, 0xF0, 0x75])
    }

    func testKBD09_InvalidScanCodeSetIsResent() {
        let r = KBCRig()
        XCTAssertEqual(r.kbd(0xF0, 0x04), [0xFA, 0xFE])
        XCTAssertEqual(r.keyboard.scanCodeSet, 2)
        // Still waiting for the set: a valid one now completes the command.
        XCTAssertEqual(r.kbd(0x01), [0xFA])
        XCTAssertEqual(r.keyboard.scanCodeSet, 1)
    }

    func testKBD10_IdentifyIsAB83TranslatedTo41() {
        XCTAssertEqual(KBCRig().kbd(0xF2), [0xFA, 0xAB, 0x41])
        XCTAssertEqual(rawRig().kbd(0xF2), [0xFA, 0xAB, 0x83])
    }

    func testKBD11_TypematicRateAndDelayEncoding() {
        let r = KBCRig()
        XCTAssertEqual(r.kbd(0xF3, 0x00), [0xFA, 0xFA])
        XCTAssertEqual(r.keyboard.typematicPeriodNs, 33_360_000)     // 30 cps
        XCTAssertEqual(r.keyboard.typematicDelayNs, 250 * ms)
        _ = r.kbd(0xF3, 0x1F)
        XCTAssertEqual(r.keyboard.typematicPeriodNs, 500_400_000)    // 2 cps
        _ = r.kbd(0xF3, 0x0B)
        XCTAssertEqual(r.keyboard.typematicPeriodNs, 91_740_000)     // 10.9 cps
        _ = r.kbd(0xF3, 0x60)
        XCTAssertEqual(r.keyboard.typematicDelayNs, 1_000 * ms)
        // b7 must be 0.
        XCTAssertEqual(r.kbd(0xF3, 0x80), [0xFA, 0xFE])
        XCTAssertEqual(r.keyboard.typematic, 0x60)
        XCTAssertEqual(r.kbd(0x40), [0xFA])
        XCTAssertEqual(r.keyboard.typematic, 0x40)
        // The new rate is what the keyboard actually uses: 750 ms, then 33.36 ms.
        r.keyboard.press(.a)
        let t0 = r.clock.now
        let got = r.drainTimed(within: 800 * ms)
        XCTAssertEqual(got.map(\.b), [0x1E, 0x1E, 0x1E])
        XCTAssertEqual(got[1].t - t0, 750 * ms)
        XCTAssertEqual(got[2].t - got[1].t, 33_360_000)
    }

    func testKBD12_TypematicRepeatFromTheKeyboard() {
        let r = KBCRig()
        r.keyboard.press(.a)
        let t0 = r.clock.now
        let held = r.drainTimed(within: 1_000 * ms)
        XCTAssertEqual(held.map(\.b), [0x1E] + Array(repeating: 0x1E, count: 6))
        XCTAssertEqual(held[1].t - t0, 500 * ms)
        for i in 2..<held.count { XCTAssertEqual(held[i].t - held[i - 1].t, 91_740_000) }
        r.keyboard.release(.a)
        XCTAssertEqual(r.drainTimed(within: 1_000 * ms).map(\.b), [0x9E], "release stops repeat, no break between repeats")

        // Only the last pressed key repeats; releasing it stops repeating
        // even though the first key is still held.
        r.keyboard.press(.a)
        r.advance(200 * ms)
        r.keyboard.press(.b)
        let two = r.drainTimed(within: 800 * ms)
        XCTAssertEqual(two.map(\.b), [0x1E, 0x30, 0x30, 0x30, 0x30, 0x30])
        r.keyboard.release(.b)
        XCTAssertEqual(r.drainTimed(within: 2_000 * ms).map(\.b), [0xB0])
        r.keyboard.release(.a)
        _ = r.drain()

        // Pause never repeats.
        r.keyboard.press(.pause)
        XCTAssertEqual(r.drainTimed(within: 2_000 * ms).map(\.b), [0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5])
        r.keyboard.release(.pause)

        // Pressed while inhibited: only the first make is buffered.
        _ = r.ctl(0xAD)
        r.keyboard.press(.c)
        r.advance(2_000 * ms)
        r.command(0xAE)
        XCTAssertEqual(r.drain(within: 20 * ms), [0x2E])
        r.keyboard.release(.c)
        XCTAssertEqual(r.drain(within: 20 * ms), [0xAE])

        // A guest that does not read 0x60 keeps the interface inhibited too
        // (full output buffer): repeats are not stored meanwhile.
        r.keyboard.press(.d)
        r.advance(3_000 * ms)
        XCTAssertEqual(r.keyboard.buffer, [])
        XCTAssertEqual(r.read(), 0x20)
        let resumed = r.drainTimed(within: 200 * ms)
        XCTAssertEqual(resumed.map(\.b), [0x20, 0x20], "repeats resume once the buffer is read")
        r.keyboard.release(.d)
        _ = r.drain()
    }

    func testKBD13_ResendRepeatsLastByte() {
        let r = KBCRig()
        XCTAssertEqual(r.kbd(0xF2), [0xFA, 0xAB, 0x41])
        XCTAssertEqual(r.kbd(0xFE), [0x41], "83 resent, translated again")
        XCTAssertEqual(r.kbd(0xFE), [0x41])
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E])
        let raw = rawRig()
        raw.tap(.a)
        XCTAssertEqual(raw.drain(), [0x1C, 0xF0, 0x1C])
        XCTAssertEqual(raw.kbd(0xFE), [0x1C])
    }

    func testKBD14_UnknownCommandsAnswerResend() {
        let r = KBCRig()
        XCTAssertEqual(r.kbd(0xEF), [0xFE])
        XCTAssertEqual(r.kbd(0xF1), [0xFE])
        XCTAssertEqual(r.kbd(0x12), [0xFE])
        XCTAssertEqual(r.kbd(0xEE), [0xEE], "still responsive")
    }

    func testKBD15_Set3KeyTypeCommands() {
        let r = rawRig()
        for c: UInt8 in [0xF7, 0xF8, 0xF9, 0xFA] { XCTAssertEqual(r.kbd(c), [0xFA], "command \(c)") }
        _ = r.kbd(0xF0, 0x03)
        // F9: all keys make only.
        _ = r.kbd(0xF9)
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1C])
        // FA: all typematic/make/break again; FD 1C: A make only.
        _ = r.kbd(0xFA)
        XCTAssertEqual(r.kbd(0xFD), [0xFA])
        r.tap(.z)
        XCTAssertEqual(r.drain(), [], "no scanning while the key list is open")
        XCTAssertEqual(r.kbd(0x1C), [0xFA])
        XCTAssertEqual(r.kbd(0xF4), [0xFA], "a command ends the key list")
        r.tap(.a)
        r.tap(.b)
        XCTAssertEqual(r.drain(), [0x1C, 0x32, 0xF0, 0x32])
        // FC 32: B make/break, no repeat.
        _ = r.kbd(0xFC, 0x32, 0xF4)
        r.keyboard.press(.b)
        XCTAssertEqual(r.drainTimed(within: 1_500 * ms).map(\.b), [0x32])
        r.keyboard.release(.b)
        XCTAssertEqual(r.drain(), [0xF0, 0x32])
        // FB 1C: A typematic (repeats, no break).
        _ = r.kbd(0xFB, 0x1C, 0xF4)
        r.keyboard.press(.a)
        XCTAssertEqual(r.drainTimed(within: 550 * ms).map(\.b), [0x1C, 0x1C])
        r.keyboard.release(.a)
        XCTAssertEqual(r.drain(), [])
    }

    func testKBD16_NewCommandAbortsPendingParameter() {
        let r = KBCRig()
        _ = r.kbd(0xED, 0x01)
        XCTAssertEqual(r.kbd(0xED), [0xFA])
        XCTAssertEqual(r.kbd(0xF4), [0xFA])
        XCTAssertEqual(r.keyboard.leds, 1, "LED command abandoned")
        XCTAssertEqual(r.kbd(0xF3), [0xFA])
        XCTAssertEqual(r.kbd(0xEE), [0xEE])
        XCTAssertEqual(r.keyboard.typematic, 0x2B)
    }

    func testKBD17_RepliesGoAheadOfBufferedScancodes() {
        let r = KBCRig()
        r.keyboard.press(.a)                   // in the OB
        r.keyboard.press(.b)
        r.keyboard.press(.c)                   // both in the keyboard buffer
        r.data(0xEE)
        XCTAssertEqual(r.drain(within: 100 * ms), [0x1E, 0xEE, 0x30, 0x2E])
        // Replies do not take buffer positions: 16 scancodes + replies fit.
        let keys: [PS2Key] = [.a, .b, .c, .d, .e, .f, .g, .h, .i, .j, .k, .l, .m, .n, .o, .p]
        r.keyboard.releaseAll()
        _ = r.drain()
        _ = r.ctl(0xAD)
        for k in keys { r.keyboard.press(k) }
        XCTAssertEqual(r.keyboard.buffer.count, 16)
        r.data(0xF2)                           // re-enables the clock (KBC-13)
        let got = r.drain(within: 100 * ms)
        XCTAssertEqual(Array(got.prefix(4)), [0x1E, 0xFA, 0xAB, 0x41])
        XCTAssertEqual(got.count, 19)
        XCTAssertFalse(got.contains(0xFF), "no overrun")
    }

    func testKBD18_BufferOverrunCode() {
        let keys: [PS2Key] = [.a, .b, .c, .d, .e, .f, .g, .h, .i, .j, .k, .l, .m, .n, .o, .p, .q, .r]
        // Translated: overrun 00 -> FF.
        let r = KBCRig()
        _ = r.ctl(0xAD)
        for k in keys { r.keyboard.press(k) }
        r.command(0xAE)
        let got = r.drain(within: 100 * ms)
        XCTAssertEqual(got.count, 17)
        XCTAssertEqual(got.last, 0xFF)
        XCTAssertEqual(got[15], 0x19, "16th key (P) delivered")
        // Raw set 2: 00.
        let raw = rawRig()
        _ = raw.ctl(0xAD)
        for k in keys { raw.keyboard.press(k) }
        raw.command(0xAE)
        let g2 = raw.drain(within: 100 * ms)
        XCTAssertEqual(g2.count, 17)
        XCTAssertEqual(g2.last, 0x00)
        // Set 1: FF.
        let s1 = rawRig()
        _ = s1.kbd(0xF0, 0x01)
        _ = s1.ctl(0xAD)
        for k in keys { s1.keyboard.press(k) }
        s1.command(0xAE)
        XCTAssertEqual(s1.drain(within: 100 * ms).last, 0xFF)
        // Multi-byte sequences are all or nothing.
        let m = rawRig()
        _ = m.ctl(0xAD)
        for k in keys.prefix(15) { m.keyboard.press(k) }
        m.keyboard.press(.up)                   // E0 75 does not fit in 1 byte
        m.keyboard.press(.s)                    // lost after the overrun
        m.command(0xAE)
        let g3 = m.drain(within: 100 * ms)
        XCTAssertEqual(g3.count, 16)
        XCTAssertEqual(g3.last, 0x00)
        XCTAssertFalse(g3.contains(0xE0))
        // After draining, keys are accepted again.
        m.keyboard.press(.t)
        XCTAssertEqual(m.drain(within: 100 * ms), [0x2C])
    }

    func testKBD19_TranslationTableForEveryKey() {
        // Set-1 make codes (XT-compatible) for every key of the table.
        let set1: [(PS2Key, [UInt8])] = [
            (.escape, [0x01]), (.digit1, [0x02]), (.digit2, [0x03]), (.digit3, [0x04]), (.digit4, [0x05]),
            (.digit5, [0x06]), (.digit6, [0x07]), (.digit7, [0x08]), (.digit8, [0x09]), (.digit9, [0x0A]),
            (.digit0, [0x0B]), (.minus, [0x0C]), (.equals, [0x0D]), (.backspace, [0x0E]), (.tab, [0x0F]),
            (.q, [0x10]), (.w, [0x11]), (.e, [0x12]), (.r, [0x13]), (.t, [0x14]), (.y, [0x15]), (.u, [0x16]),
            (.i, [0x17]), (.o, [0x18]), (.p, [0x19]), (.leftBracket, [0x1A]), (.rightBracket, [0x1B]),
            (.enter, [0x1C]), (.leftCtrl, [0x1D]), (.a, [0x1E]), (.s, [0x1F]), (.d, [0x20]), (.f, [0x21]),
            (.g, [0x22]), (.h, [0x23]), (.j, [0x24]), (.k, [0x25]), (.l, [0x26]), (.semicolon, [0x27]),
            (.quote, [0x28]), (.grave, [0x29]), (.leftShift, [0x2A]), (.backslash, [0x2B]), (.z, [0x2C]),
            (.x, [0x2D]), (.c, [0x2E]), (.v, [0x2F]), (.b, [0x30]), (.n, [0x31]), (.m, [0x32]),
            (.comma, [0x33]), (.period, [0x34]), (.slash, [0x35]), (.rightShift, [0x36]),
            (.keypadMultiply, [0x37]), (.leftAlt, [0x38]), (.space, [0x39]), (.capsLock, [0x3A]),
            (.f1, [0x3B]), (.f2, [0x3C]), (.f3, [0x3D]), (.f4, [0x3E]), (.f5, [0x3F]), (.f6, [0x40]),
            (.f7, [0x41]), (.f8, [0x42]), (.f9, [0x43]), (.f10, [0x44]), (.numLock, [0x45]),
            (.scrollLock, [0x46]), (.keypad7, [0x47]), (.keypad8, [0x48]), (.keypad9, [0x49]),
            (.keypadMinus, [0x4A]), (.keypad4, [0x4B]), (.keypad5, [0x4C]), (.keypad6, [0x4D]),
            (.keypadPlus, [0x4E]), (.keypad1, [0x4F]), (.keypad2, [0x50]), (.keypad3, [0x51]),
            (.keypad0, [0x52]), (.keypadPeriod, [0x53]), (.iso102, [0x56]), (.f11, [0x57]), (.f12, [0x58]),
            (.keypadEnter, [0xE0, 0x1C]), (.rightCtrl, [0xE0, 0x1D]), (.keypadDivide, [0xE0, 0x35]),
            (.rightAlt, [0xE0, 0x38]), (.home, [0xE0, 0x47]), (.up, [0xE0, 0x48]), (.pageUp, [0xE0, 0x49]),
            (.left, [0xE0, 0x4B]), (.right, [0xE0, 0x4D]), (.end, [0xE0, 0x4F]), (.down, [0xE0, 0x50]),
            (.pageDown, [0xE0, 0x51]), (.insert, [0xE0, 0x52]), (.delete, [0xE0, 0x53]),
            (.leftGUI, [0xE0, 0x5B]), (.rightGUI, [0xE0, 0x5C]), (.menu, [0xE0, 0x5D]),
        ]
        XCTAssertEqual(set1.count + 2, PS2Key.allKeys.count, "every key but Pause/PrtSc listed")
        let r = KBCRig()
        for (k, make) in set1 {
            r.tap(k)
            var brk = make
            brk[brk.count - 1] |= 0x80
            XCTAssertEqual(r.drain(), make + brk, "\(k.name)")
        }
        // Table spot checks straight from the reference.
        XCTAssertEqual(Translation8042.byte(0x1C), 0x1E)
        XCTAssertEqual(Translation8042.byte(0x76), 0x01)
        XCTAssertEqual(Translation8042.byte(0x5A), 0x1C)
        XCTAssertEqual(Translation8042.byte(0x83), 0x41)
        XCTAssertEqual(Translation8042.byte(0x84), 0x54)
        XCTAssertEqual(Translation8042.byte(0x00), 0xFF)
        for b: UInt8 in [0xE0, 0xE1, 0xFA, 0xAA, 0xEE, 0xFE] { XCTAssertEqual(Translation8042.byte(b), b) }
        // The 8042 quirk: F0 before a code whose translation has b7 set is
        // dropped (set 3 Left GUI = 8B).
        let q = KBCRig()
        _ = q.kbd(0xF0, 0x03)
        q.tap(.leftGUI)
        XCTAssertEqual(q.drain(), [0x8B])
    }

    func testKBD20_NoTranslationGivesRawSet2() {
        let r = rawRig()
        r.tap(.a)
        r.tap(.rightCtrl)
        r.tap(.f7)
        XCTAssertEqual(r.drain(), [0x1C, 0xF0, 0x1C, 0xE0, 0x14, 0xE0, 0xF0, 0x14, 0x83, 0xF0, 0x83])
    }

    func testKBD21_LetterAPressRelease() {
        let r = KBCRig()
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E])
        let raw = rawRig()
        raw.tap(.a)
        XCTAssertEqual(raw.drain(), [0x1C, 0xF0, 0x1C])
        // blog_os "123": 02 82 03 83 04 84.
        let b = KBCRig()
        for ch in "123" { b.tap(PS2Key.forASCII(ch)!.0) }
        XCTAssertEqual(b.drain(), [0x02, 0x82, 0x03, 0x83, 0x04, 0x84])
    }

    func testKBD22_ExtendedKeys() {
        let r = KBCRig()
        var got: [UInt8] = []
        for k: PS2Key in [.rightCtrl, .up, .keypadEnter, .keypadDivide] {
            r.tap(k)
            got += r.drain()
        }
        XCTAssertEqual(got, [0xE0, 0x1D, 0xE0, 0x9D, 0xE0, 0x48, 0xE0, 0xC8,
                             0xE0, 0x1C, 0xE0, 0x9C, 0xE0, 0x35, 0xE0, 0xB5])
        // All four taps at one instant need 20 set-2 bytes: more than the
        // 16-byte buffer holds, so the tail becomes the overrun code.
        r.tap(.rightCtrl); r.tap(.up); r.tap(.keypadEnter); r.tap(.keypadDivide)
        XCTAssertEqual(r.drain().last, 0xFF)
    }

    func testKBD23_FakeShiftsAroundGrayKeys() {
        let r = KBCRig()
        _ = r.kbd(0xED, 0x02)                   // Num Lock LED on
        r.tap(.up)
        XCTAssertEqual(r.drain(), [0xE0, 0x2A, 0xE0, 0x48, 0xE0, 0xC8, 0xE0, 0xAA])
        _ = r.kbd(0xED, 0x00)
        r.keyboard.press(.leftShift)
        r.tap(.home)
        r.keyboard.release(.leftShift)
        XCTAssertEqual(r.drain(), [0x2A, 0xE0, 0xAA, 0xE0, 0x47, 0xE0, 0xC7, 0xE0, 0x2A, 0xAA])
        r.keyboard.press(.rightShift)
        r.tap(.keypadDivide)
        r.keyboard.release(.rightShift)
        XCTAssertEqual(r.drain(), [0x36, 0xE0, 0xB6, 0xE0, 0x35, 0xE0, 0xB5, 0xE0, 0x36, 0xB6])
        // Num Lock on and Shift held: base case.
        _ = r.kbd(0xED, 0x02)
        r.keyboard.press(.leftShift)
        r.tap(.left)
        r.keyboard.release(.leftShift)
        XCTAssertEqual(r.drain(), [0x2A, 0xE0, 0x4B, 0xE0, 0xCB, 0xAA])
        // Raw set 2 form, and the option to turn it off.
        let raw = rawRig()
        _ = raw.kbd(0xED, 0x02)
        raw.tap(.insert)
        XCTAssertEqual(raw.drain(), [0xE0, 0x12, 0xE0, 0x70, 0xE0, 0xF0, 0x70, 0xE0, 0xF0, 0x12])
        raw.keyboard.fakeShifts = false
        raw.tap(.insert)
        XCTAssertEqual(raw.drain(), [0xE0, 0x70, 0xE0, 0xF0, 0x70])
    }

    func testKBD24_PauseMakeOnly() {
        let r = KBCRig()
        r.tap(.pause)
        XCTAssertEqual(r.drain(), [0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5])
        r.keyboard.press(.leftCtrl)
        r.tap(.pause)
        r.keyboard.release(.leftCtrl)
        XCTAssertEqual(r.drain(), [0x1D, 0xE0, 0x46, 0xE0, 0xC6, 0x9D])
        let raw = rawRig()
        raw.tap(.pause)
        XCTAssertEqual(raw.drain(), [0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77])
    }

    func testKBD25_PrintScreenVariants() {
        let r = KBCRig()
        r.tap(.printScreen)
        XCTAssertEqual(r.drain(), [0xE0, 0x2A, 0xE0, 0x37, 0xE0, 0xB7, 0xE0, 0xAA])
        r.keyboard.press(.leftShift)
        r.tap(.printScreen)
        r.keyboard.release(.leftShift)
        XCTAssertEqual(r.drain(), [0x2A, 0xE0, 0x37, 0xE0, 0xB7, 0xAA])
        r.keyboard.press(.rightCtrl)
        r.tap(.printScreen)
        r.keyboard.release(.rightCtrl)
        XCTAssertEqual(r.drain(), [0xE0, 0x1D, 0xE0, 0x37, 0xE0, 0xB7, 0xE0, 0x9D])
        r.keyboard.press(.leftAlt)
        r.tap(.printScreen)
        r.keyboard.release(.leftAlt)
        XCTAssertEqual(r.drain(), [0x38, 0x54, 0xD4, 0xB8])
    }

    func testKBD26_KeysDiscardedWhileDisabled() {
        let r = KBCRig()
        _ = r.kbd(0xF5)
        r.tap(.a)
        r.keyboard.press(.b)
        XCTAssertEqual(r.drain(), [])
        XCTAssertEqual(r.keyboard.buffer, [])
        _ = r.kbd(0xF4)
        r.keyboard.release(.b)
        XCTAssertEqual(r.drain(), [], "no break for a key the keyboard never saw")
    }

    func testKBD27_KeysBufferedWhileClockInhibited() {
        let r = KBCRig()
        _ = r.ctl(0x60, 0x71)                  // CTR b4
        r.tap(.a)
        r.advance(10 * ms)
        XCTAssertFalse(r.obf)
        XCTAssertEqual(r.keyboard.buffer, [0x1C, 0xF0, 0x1C])
        r.command(0x60); r.data(0x61)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E])
    }

    func testKBD28_KeyboardForgetsKeysOnDisableAndReset() {
        let r = KBCRig()
        r.keyboard.press(.leftShift)
        _ = r.drain()
        _ = r.kbd(0xF5)
        _ = r.kbd(0xF4)
        r.keyboard.release(.leftShift)
        XCTAssertEqual(r.drain(), [])
        r.keyboard.press(.a)
        _ = r.drain()
        _ = r.kbd(0xFF)
        _ = r.drain()
        r.keyboard.release(.a)
        XCTAssertEqual(r.drain(), [])
        XCTAssertTrue(r.keyboard.keysDown.isEmpty)
    }

    // MARK: - Key API

    func testKeyNamesAndASCII() {
        XCTAssertEqual(PS2Key.named("a"), .a)
        XCTAssertEqual(PS2Key.named("A"), .a)
        XCTAssertEqual(PS2Key.named("enter"), .enter)
        XCTAssertEqual(PS2Key.named("esc"), .escape)
        XCTAssertEqual(PS2Key.named("lshift"), .leftShift)
        XCTAssertEqual(PS2Key.named("f1"), .f1)
        XCTAssertEqual(PS2Key.named("F12"), .f12)
        XCTAssertEqual(PS2Key.named("up"), .up)
        XCTAssertEqual(PS2Key.named("kp5"), .keypad5)
        XCTAssertEqual(PS2Key.named("pause"), .pause)
        XCTAssertEqual(PS2Key.named("prtsc"), .printScreen)
        XCTAssertEqual(PS2Key.named("backspace"), .backspace)
        XCTAssertEqual(PS2Key.named("tab"), .tab)
        XCTAssertEqual(PS2Key.named("space"), .space)
        XCTAssertEqual(PS2Key.named("iso102"), .iso102)
        XCTAssertEqual(PS2Key.named("/"), .slash)
        XCTAssertEqual(PS2Key.named("sc2:e0:5e"), PS2Key(code: 0x5E, extended: true))
        XCTAssertNil(PS2Key.named("nosuchkey"))
        XCTAssertNil(PS2Key.named("?"), "needs shift: not a key name")
        for k in PS2Key.allKeys { XCTAssertEqual(PS2Key.named(k.name), k) }
        XCTAssertEqual(Set(PS2Key.allKeys).count, PS2Key.allKeys.count)

        XCTAssertTrue(PS2Key.forASCII("a")! == (.a, false))
        XCTAssertTrue(PS2Key.forASCII("A")! == (.a, true))
        XCTAssertTrue(PS2Key.forASCII("!")! == (.digit1, true))
        XCTAssertTrue(PS2Key.forASCII("?")! == (.slash, true))
        XCTAssertTrue(PS2Key.forASCII("\n")! == (.enter, false))
        XCTAssertTrue(PS2Key.forASCII(" ")! == (.space, false))
        XCTAssertTrue(PS2Key.forASCII("~")! == (.grave, true))
        XCTAssertNil(PS2Key.forASCII("é"))
        var typed = 0
        for a in UInt8(0x20)...UInt8(0x7E) where PS2Key.forASCII(Character(UnicodeScalar(a))) != nil { typed += 1 }
        XCTAssertEqual(typed, 95, "every printable ASCII character")
    }

    func testDescribeAndTrace() {
        let r = KBCRig()
        var events: [TraceEvent] = []
        r.trace.enabled = .kbd
        r.trace.handler = { events.append($0) }
        r.keyboard.press(.a)
        let key = events.first { $0.name == "key" }
        XCTAssertEqual(key?.fields.first?.1, .str("a"))
        XCTAssertEqual(key?.fields[2].1, .str("1C"))
        _ = r.kbd(0xEE)
        XCTAssertTrue(events.contains { $0.name == "kbd-cmd" })
        XCTAssertTrue(events.contains { $0.name == "kbd-reply" })
        XCTAssertTrue(r.keyboard.describe().contains("10.9 cps after 500 ms"))
    }
}

private func == (a: (PS2Key, shift: Bool), b: (PS2Key, Bool)) -> Bool { a.0 == b.0 && a.shift == b.1 }
