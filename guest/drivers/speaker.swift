/// PC speaker: PIT channel 2 in mode 3 (square wave) drives the speaker when
/// port 0x61 bit 0 (gate: let channel 2 count) and bit 1 (speaker data:
/// connect OUT2 to the speaker) are both set.
enum Speaker {
    static func start(hz: UInt64) {
        let count = PIT.divisor(forHz: hz)
        CPU.withInterruptsDisabled {
            PIT.programChannel2(mode: 3, count: count)
            PIT.setPortB(gate: true, speaker: true)
        }
    }

    static func stop() {
        CPU.withInterruptsDisabled {
            PIT.setPortB(gate: false, speaker: false)
        }
    }

    /// Beeps for `milliseconds` of timer time (sleeps with hlt meanwhile).
    static func beep(hz: UInt64, milliseconds: UInt64) {
        start(hz: hz)
        Timer.sleep(milliseconds: milliseconds)
        stop()
    }
}
