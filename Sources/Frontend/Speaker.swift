import Board
import CSDL2
import Devices

/// The PC speaker as a square wave: PIT OUT2 edges are recorded with their
/// virtual timestamps (through `pit.out2Listener`) and, gated by port 0x61
/// bit 1 (speaker data), turned into 16-bit samples, each the average level
/// over its sample period (a box filter against aliasing), then passed through
/// a DC-blocking filter so a speaker held in one position is silent.
final class SpeakerSynth {
    let sampleRate: UInt64
    private unowned let pc: PC
    /// Port 0x61 bit 1 (speaker data), read once per batch of samples.
    private let dataBit: () -> Bool

    private var edges: [(time: UInt64, level: Bool)] = []
    private var out2 = false
    /// Virtual time up to which samples were produced, and the number of the
    /// next sample counted from `sampleBase` (so rounding never drifts).
    private var sampleBase: UInt64 = 0
    private var sampleIndex: UInt64 = 0
    private var lastInput: Double = 0
    private var lastOutput: Double = 0
    private let amplitude: Double = 6000

    init(pc: PC, sampleRate: UInt64 = 44_100, dataBit: @escaping () -> Bool) {
        self.pc = pc
        self.sampleRate = sampleRate
        self.dataBit = dataBit
        sampleBase = pc.virtualTime
    }

    /// Starts recording OUT2 edges.
    func attach() {
        pc.pit.out2Listener = { [unowned self] level in
            if self.edges.count < 1_000_000 { self.edges.append((self.pc.clock.now, level)) }
        }
        sampleBase = pc.virtualTime
        sampleIndex = 0
    }

    func detach() { pc.pit.out2Listener = nil }

    /// Forgets the past (after a reset or a pause).
    func restart() {
        edges.removeAll(keepingCapacity: true)
        sampleBase = pc.virtualTime
        sampleIndex = 0
        lastInput = 0
        lastOutput = 0
    }

    /// True while the speaker is moving or still settling.
    var audible: Bool { !edges.isEmpty || abs(lastOutput) * amplitude > 0.5 || dataBit() != lastData }
    private var lastData = false

    private func sampleTime(_ i: UInt64) -> UInt64 {
        sampleBase &+ i &* 1_000_000_000 / sampleRate   // i < 2 * sampleRate: no overflow
    }

    /// Moves on to virtual time `t` without producing samples (while silent).
    func skip(to t: UInt64) {
        sampleBase = t
        sampleIndex = 0
        lastInput = 0
        lastOutput = 0
    }

    /// Appends the samples for virtual time up to `t`.
    func render(upTo t: UInt64, into out: inout [Int16]) {
        if t < sampleBase { restart(); return }
        let data = dataBit()
        lastData = data
        var e = 0
        var t0 = sampleTime(sampleIndex)
        while true {
            let t1 = sampleTime(sampleIndex + 1)
            if t1 > t { break }
            var highNs: UInt64 = 0
            var cursor = t0
            while e < edges.count && edges[e].time < t1 {
                let et = max(edges[e].time, cursor)
                if out2 && data { highNs += et - cursor }
                cursor = et
                out2 = edges[e].level
                e += 1
            }
            if out2 && data { highNs += t1 - cursor }
            let x = Double(highNs) / Double(max(1, t1 - t0))
            let y = x - lastInput + 0.995 * lastOutput
            lastInput = x
            lastOutput = y
            out.append(Int16(max(-32767, min(32767, y * amplitude))))
            sampleIndex += 1
            t0 = t1
        }
        edges.removeFirst(e)
        // Keep the index small.
        if sampleIndex >= sampleRate {
            sampleBase = sampleTime(sampleIndex)
            sampleIndex = 0
        }
    }
}

/// SDL audio output for the speaker: the device is opened the first time
/// the speaker makes a sound (an idle guest keeps no audio thread busy) and
/// fed with SDL_QueueAudio from the frontend loop.
final class SpeakerOutput {
    private let synth: SpeakerSynth
    private var device: SDL_AudioDeviceID = 0
    private var failed = false
    private var buffer: [Int16] = []

    init(pc: PC, dataBit: @escaping () -> Bool) {
        synth = SpeakerSynth(pc: pc, dataBit: dataBit)
        synth.attach()
    }

    deinit {
        synth.detach()
        if device != 0 { close() }
    }

    func restart() {
        synth.restart()
        if device != 0 { SDL_ClearQueuedAudio(device) }
    }

    /// Virtual time since which the speaker has been silent (nil: sounding).
    private var silentSince: UInt64?
    /// After this much silence the device is closed again (SDL's audio
    /// thread and its device hot-plug polling stop with it).
    static let closeAfterNs: UInt64 = 2_000_000_000

    /// Produces and queues the samples up to virtual time `t`.
    func pump(upTo t: UInt64) {
        guard synth.audible else {
            // Silent: skip ahead without producing or queueing anything.
            synth.skip(to: t)
            if device != 0 {
                if silentSince == nil { silentSince = t }
                if let s = silentSince, t &- s >= Self.closeAfterNs, SDL_GetQueuedAudioSize(device) == 0 { close() }
            }
            return
        }
        silentSince = nil
        if device == 0 && !failed { open() }
        buffer.removeAll(keepingCapacity: true)
        synth.render(upTo: t, into: &buffer)
        guard device != 0, !buffer.isEmpty else { return }
        let queued = Int(SDL_GetQueuedAudioSize(device)) / 2
        let rate = Int(synth.sampleRate)
        if queued == 0 {
            // Starting (or starved): a little lead so the next batch arrives in time.
            var silence = [Int16](repeating: 0, count: rate / 40)
            SDL_QueueAudio(device, &silence, UInt32(silence.count * 2))
        }
        if queued > rate / 5 { return }   // more than 200 ms queued: drop (host ran ahead)
        _ = buffer.withUnsafeBytes { SDL_QueueAudio(device, $0.baseAddress, UInt32($0.count)) }
    }

    private func open() {
        if SDL_WasInit(UInt32(SDL_INIT_AUDIO)) == 0 && SDL_InitSubSystem(UInt32(SDL_INIT_AUDIO)) != 0 {
            failed = true
            return
        }
        var want = SDL_AudioSpec()
        want.freq = Int32(synth.sampleRate)
        want.format = SDL_AudioFormat(AUDIO_S16SYS)
        want.channels = 1
        want.samples = 512
        var have = SDL_AudioSpec()
        device = SDL_OpenAudioDevice(nil, 0, &want, &have, 0)
        if device == 0 {
            // No audio device: the speaker stays silent, and the audio
            // subsystem is shut again so no thread keeps polling for one.
            failed = true
            SDL_QuitSubSystem(UInt32(SDL_INIT_AUDIO))
            return
        }
        SDL_PauseAudioDevice(device, 0)
    }

    private func close() {
        SDL_CloseAudioDevice(device)
        device = 0
        silentSince = nil
        SDL_QuitSubSystem(UInt32(SDL_INIT_AUDIO))
    }
}

/// Port 0x61 bit 1 (speaker data): the speaker follows OUT2 only while it is set.
func speakerDataBit(_ pc: PC) -> Bool { pc.portB.dataEnable }
