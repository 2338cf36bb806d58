import CPU
import Devices

/// The board: RAM, port map, virtual clock, device wiring. (Being built.)
public final class PC {
    public let memory: PhysicalMemory
    public let clock = VirtualClock()
    public let trace = TraceSink()

    public init(ramSize: Int) {
        memory = PhysicalMemory(ramSize: ramSize)
    }
}
