namespace CloonixActors.Protocol;

/// <summary>
/// Marker for every message the project sends across process boundaries or persists.
/// Hyperion is bound to this interface only; anything else is refused by the serializer.
/// </summary>
public interface ICloonixMessage;
