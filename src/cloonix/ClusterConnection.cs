using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Tools.Client;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.Remote;
using CloonixActors.Host;
using CloonixActors.Host.Security;
using CloonixActors.Protocol;

namespace CloonixActors.Cli;

public sealed class ClientException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// A remoting-only ActorSystem with a ClusterClient to the cluster's receptionists. The client is never
/// a cluster member, so it does not count in the split-brain resolver's majority.
/// </summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly IActorRef _client;
    private readonly string _secret;
    private readonly string _contact;
    private readonly Task<string> _unreachable;

    private ClusterConnection(ActorSystem system, IActorRef client, string secret, string contact, Task<string> unreachable)
    {
        _system = system;
        _client = client;
        _secret = secret;
        _contact = contact;
        _unreachable = unreachable;
    }

    /// <param name="tlsDir">Where client.crt, client.key and ca.crt are: the client's remoting is mutual TLS like the members'.</param>
    public static async Task<ClusterConnection> OpenAsync(string contact, string secret, string tlsDir)
    {
        var colon = contact.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(contact[(colon + 1)..], out var port) || port is < 1 or > 65535)
        {
            throw new ClientException($"--contact '{contact}' is not ADDR:PORT", 2);
        }

        var host = contact[..colon];
        var dir = Path.Combine(AppContext.BaseDirectory, "hocon");
        var config = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(dir, "client.conf")))
            .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(dir, "base.conf"))))
            // ClusterClient.Send travels as a pub-sub message: its serializer binding lives in this config.
            .WithFallback(DistributedPubSub.DefaultConfig());
        // CLOONIX_TLS=off only measures what TLS costs (bench/tls.py), against a daemon with TLS off too.
        if (Environment.GetEnvironmentVariable("CLOONIX_TLS") == "off")
        {
            config = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = off").WithFallback(config);
        }

        var tls = HostingExtensions.TlsEnabled(config);
        var setup = BootstrapSetup.Create().WithConfig(config);
        var systemSetup = ActorSystemSetup.Create(setup);
        if (tls)
        {
            TlsIdentity identity;
            try
            {
                identity = ClusterCertificates.Load(tlsDir, ClusterCertificates.ClientRole);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                throw new ClientException($"{ex.Message} (use --state-dir or --tls-dir)", 2);
            }

            systemSetup = setup.And(ClusterCertificates.SslSetup(identity));
        }

        RemotingWorkarounds.PinDotNettyMachineId();
        var system = ActorSystem.Create("cloonix-cli", systemSetup);
        var scheme = tls ? "akka.ssl.tcp" : "akka.tcp";
        var contacts = ImmutableHashSet.Create(ActorPath.Parse($"{scheme}://cloonix@{host}:{port}/system/receptionist"));
        // Fail as soon as remoting cannot associate with the contact (nothing listens, or it refused this
        // client's certificate), instead of letting ClusterClient retry until the timeout. The transport's
        // own events tell: a plain TCP probe would show up in the daemon's log as a failed TLS handshake.
        var unreachable = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(AssociationWatcher.Props(host, port, unreachable), "association-watcher");
        var client = system.ActorOf(ClusterClient.Props(ClusterClientSettings.Create(system).WithInitialContacts(contacts)), "client");
        return new ClusterConnection(system, client, secret, contact, unreachable.Task);
    }

    /// <summary>The client's own ActorSystem: streams make their receivers in it.</summary>
    public ActorSystem System => _system;

    public async Task<IClientReply> AskAsync(IClientCommand command, TimeSpan timeout)
    {
        return await AskRawAsync(new ClientRequest(_secret, command), timeout).ConfigureAwait(false);
    }

    /// <summary>Sends a request exactly as given (its own secret, possibly a wrong one): the request fuzz test's door.</summary>
    public async Task<IClientReply> AskRawAsync(ClientRequest request, TimeSpan timeout)
    {
        // A request remoting cannot carry would be dropped by the sender with a log line, and the reply never come.
        if (request?.Command is { } command)
        {
            RequestFrame.Check(_system, command);
        }

        var ask = _client.Ask<IClientReply>(new ClusterClient.Send("/user/api", request, localAffinity: true), timeout);
        if (await Task.WhenAny(ask, _unreachable).ConfigureAwait(false) == _unreachable)
        {
            throw new ClientException($"cannot reach cloonixd at {_contact}: {await _unreachable.ConfigureAwait(false)}", 3);
        }

        try
        {
            return await ask.ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new ClientException($"no reply from the cluster within {timeout.TotalSeconds:0} s", 4);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The client's own output is written by now. Akka's shutdown may still log through its standard-out
        // logger whatever the configured level; nothing of that belongs in a script's output.
        await Console.Out.FlushAsync().ConfigureAwait(false);
        Console.SetOut(TextWriter.Null);
        await _system.Terminate().ConfigureAwait(false);
    }
}

/// <summary>Completes its task with the cause of the first failed association with the contact's address.</summary>
internal sealed class AssociationWatcher : ReceiveActor
{
    public AssociationWatcher(string host, int port, TaskCompletionSource<string> unreachable)
    {
        Receive<AssociationErrorEvent>(e =>
        {
            if (e.RemoteAddress.Host == host && e.RemoteAddress.Port == port && Final(e.Cause) is { } why)
            {
                unreachable.TrySetResult(why);
            }
        });
    }

    /// <summary>
    /// Why no retry can help: nothing listens there, or one side refused the other's certificate. Anything
    /// else (a handshake that timed out on a busy host) is left to ClusterClient's retries.
    /// </summary>
    private static string? Final(Exception? cause)
    {
        for (var e = cause; e is not null; e = e.InnerException)
        {
            var refused = e is System.Security.Authentication.AuthenticationException
                || e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostUnreachable or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostNotFound }
                || e.Message.Contains("Connection refused", StringComparison.Ordinal);
            if (refused)
            {
                return e.Message.Split('\n')[0].Trim();
            }
        }

        return null;
    }

    public static Props Props(string host, int port, TaskCompletionSource<string> unreachable) =>
        Akka.Actor.Props.Create(() => new AssociationWatcher(host, port, unreachable));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
