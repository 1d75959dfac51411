using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using CloonixActors.Protocol;

namespace CloonixActors.Host.Actors;

/// <summary>
/// The service the console client reaches through ClusterClient (<c>/user/api</c>). It checks the shared
/// secret of every request, then hands the command to the host agent, which answers the client directly.
/// </summary>
public sealed class ApiActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(string secret, IActorRef hostAgent) =>
        Akka.Actor.Props.Create(() => new ApiActor(secret, hostAgent));

    public ApiActor(string secret, IActorRef hostAgent)
    {
        var expected = Encoding.UTF8.GetBytes(secret);
        Receive<ClientRequest>(request =>
        {
            var given = Encoding.UTF8.GetBytes(request.Secret ?? string.Empty);
            if (!CryptographicOperations.FixedTimeEquals(given, expected))
            {
                _log.Warning("refused a request with a wrong secret from {0}", Sender.Path.Address);
                Sender.Tell(new CommandFailed(ErrorCode.Unauthorized, "wrong secret: use the secret file of the cluster (--secret-file or --state-dir)"));
                return;
            }

            if (request.Command is null)
            {
                Sender.Tell(new CommandFailed(ErrorCode.InvalidArgument, "empty request"));
                return;
            }

            hostAgent.Forward(request.Command);
        });
    }
}
