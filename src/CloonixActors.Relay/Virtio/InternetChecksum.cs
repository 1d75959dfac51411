namespace CloonixActors.Relay.Virtio;

/// <summary>
/// RFC 1071 ones' complement sum over data scattered in pieces of any length, for completing a
/// NEEDS_CSUM frame in software when the receiver did not negotiate GUEST_CSUM.
/// </summary>
internal static class InternetChecksum
{
    /// <summary>
    /// Adds <paramref name="data"/> as big-endian 16-bit words to <paramref name="sum"/>, continuing a word left
    /// half-done by the previous piece (<paramref name="odd"/>), since pieces split at arbitrary byte offsets.
    /// </summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data, ref bool odd)
    {
        var i = 0;
        if (odd && !data.IsEmpty)
        {
            sum += data[0];
            i = 1;
            odd = false;
        }
        for (; i + 1 < data.Length; i += 2)
        {
            sum += (uint)((data[i] << 8) | data[i + 1]);
        }
        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
            odd = true;
        }
        return sum;
    }

    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)sum;
    }

    /// <summary>The value to store in the checksum field: 0 becomes 0xFFFF as in Linux (a zero UDP checksum means "none").</summary>
    public static ushort Finish(ulong sum)
    {
        var value = (ushort)~Fold(sum);
        return value == 0 ? (ushort)0xFFFF : value;
    }
}
