namespace CloonixActors.Relay.Memory;

/// <summary>
/// A piece of guest memory already translated to a host address and bounds-checked against one region.
/// Only <see cref="GuestMemory"/> creates them from guest addresses, so holding one means the range was
/// inside a mapping at translation time; it stays valid until that <see cref="GuestMemory"/> is disposed.
/// The guest may change the bytes at any moment: read each value once and never trust it twice.
/// </summary>
public readonly struct BufferSegment : IEquatable<BufferSegment>
{
    internal BufferSegment(nint address, int length)
    {
        Address = address;
        Length = length;
    }

    /// <summary>Host address of the first byte.</summary>
    public nint Address { get; }

    /// <summary>Length in bytes; an int because chains longer than int.MaxValue are refused, so a Span can cover any segment.</summary>
    public int Length { get; }

    /// <summary>The bytes, in guest memory shared with QEMU: do not keep the span past the chain's return to the driver.</summary>
    public unsafe Span<byte> AsSpan() => new((void*)Address, Length);

    public bool Equals(BufferSegment other) => Address == other.Address && Length == other.Length;

    public override bool Equals(object? obj) => obj is BufferSegment other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Address, Length);

    public static bool operator ==(BufferSegment left, BufferSegment right) => left.Equals(right);

    public static bool operator !=(BufferSegment left, BufferSegment right) => !left.Equals(right);

    public override string ToString() => $"0x{Address:x}+{Length}";
}
