namespace CloonixActors.IntegrationTests;

/// <summary>
/// Bad input gets one clear error line on stderr and a non-zero exit, and changes nothing: the listing,
/// the namespaces and the bridges are the same before and after.
/// </summary>
[Collection("dataplane")]
public sealed class BadInputTests(BadInputTests.TwoContainerLab fixture) : IClassFixture<BadInputTests.TwoContainerLab>
{
    private readonly Lab _lab = fixture.Lab;

    /// <summary>One lab for the whole class: every test here proves it changes nothing, so they can share it.</summary>
    public sealed class TwoContainerLab : IDisposable
    {
        public TwoContainerLab()
        {
            Lab = new Lab().Start();
            Lab.TwoContainersOnLan();
        }

        public Lab Lab { get; }

        public void Dispose() => Lab.Dispose();
    }

    public static TheoryData<string[], string> Refused => new()
    {
        { ["add", "cnt", "Upper"], "invalid" },
        { ["add", "cnt", "averyveryverylongname"], "longer than 15" },
        { ["add", "cnt", "a;rm -rf x"], "invalid" },
        { ["add", "cnt", "$(reboot)"], "invalid" },
        { ["add", "lan", "../etc"], "invalid" },
        { ["add", "lan", "a/b"], "invalid" },
        { ["add", "lan", "bad name"], "invalid" },
        { ["add", "cnt", "c1"], "already used" },
        { ["add", "lan", "c2"], "already used" },
        { ["connect", "c1", "1", "lan1"], "no nic 1" },
        { ["connect", "c1", "-1", "lan1"], "no nic -1" },
        { ["connect", "c1", "0", "lan1"], "already connected" },
        { ["connect", "nobody", "0", "lan1"], "no node named" },
        { ["connect", "c1", "0", "nolan"], "no lan named" },
        { ["connect", "c1", "0", "c2"], "is a node" },
        { ["disconnect", "lan1", "0"], "is a lan" },
        { ["del", "nothing"], "no node or lan" },
        { ["del", "lan1"], "--force" },
        { ["exec", "nobody", "--", "true"], "no node named" },
        { ["exec", "lan1", "--", "true"], "is a lan" },
        { ["add", "vm", "vm9", "--nics", "v", "--ram", "99999999"], "host's memory" },
        { ["add", "vm", "vm9", "--nics", "v", "--ram", "16"], "64 to" },
        { ["add", "vm", "vm9", "--nics", "v", "--cpus", "999"], "host's cores" },
        { ["add", "vm", "vm9", "--nics", "v", "--image", "/no/such/disk.qcow2"], "does not exist" },
        { ["add", "vm", "vm9", "--nics", "v", "--image", "relative.qcow2"], "absolute path" },
        { ["add", "vm", "vm9", "--nics", "v", "--image", "/dev/null"], "image /dev/null is a character device, not a regular file" },
        { ["add", "vm", "vm9", "--nics", "v", "--image", "/tmp"], "image /tmp is a directory, not a regular file" },
        { ["add", "vm", "VM9", "--nics", "v"], "invalid" },
        { ["add", "vm", "c1", "--nics", "v"], "already used" },
        { ["image", "build", "huge"], "unknown image" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Is_refused_with_one_clear_line_and_changes_nothing(string[] args, string expected)
    {
        var before = Snapshot();

        var r = _lab.Cli(args);

        Assert.Equal(1, r.ExitCode);
        Assert.Equal(string.Empty, r.Stdout);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("cloonix: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
    }

    /// <summary>The client parses --nics into nic kinds before it asks: what it cannot send is a usage error, in the daemon's words.</summary>
    public static TheoryData<string[], string> NicListsTheClientRefuses => new()
    {
        { ["add", "cnt", "c9", "--nics", "0"], "a container has 1 to 32 nics, not 0" },
        { ["add", "cnt", "c9", "--nics", "33"], "a container has 1 to 32 nics, not 33" },
        { ["add", "cnt", "c9", "--nics", "-1"], "a container has 1 to 32 nics, not -1" },
        { ["add", "cnt", "c9", "--nics", string.Join(',', Enumerable.Repeat("s", 33))], "a container has 1 to 32 nics, not 33" },
        { ["add", "cnt", "c9", "--nics", "v,d"], "--nics 'v,d' is neither a number of nics nor a list of v (veth) and s (spyable), e.g. v,s" },
        { ["add", "vm", "vm9", "--nics", "x"], "--nics 'x' must list 1 to 32 nic types, each d, v or s (e.g. d,v,v)" },
        { ["add", "vm", "vm9", "--nics", string.Join(',', Enumerable.Repeat("v", 33))], "must list 1 to 32 nic types, each d, v or s (e.g. d,v,v)" },
    };

    [Theory]
    [MemberData(nameof(NicListsTheClientRefuses))]
    public void A_nic_list_the_client_cannot_parse_is_a_usage_error_with_one_clear_line(string[] args, string expected)
    {
        var before = Snapshot();

        var r = _lab.Cli(args);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(string.Empty, r.Stdout);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("cloonix: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
    }

    [Theory]
    [InlineData("add", "cnt", "c9", "--nics", "two")]
    [InlineData("connect", "c1")]
    [InlineData("frobnicate")]
    public void A_malformed_command_line_is_a_usage_error(params string[] args)
    {
        var before = Snapshot();

        var r = _lab.Cli(args);

        Assert.Equal(2, r.ExitCode);
        Assert.NotEqual(string.Empty, r.Stderr.Trim());
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void A_wrong_secret_is_refused_and_changes_nothing()
    {
        var before = Snapshot();
        var wrong = Path.Combine(_lab.StateDir, "wrong-secret");
        File.WriteAllText(wrong, "0123456789abcdef0123456789abcdef\n");

        var r = _lab.Cli(["add", "lan", "intruder"], wrong);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("wrong secret", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.Contains("refused a request with a wrong secret", _lab.DaemonLog, StringComparison.Ordinal);
    }

    [Fact]
    public void The_secret_file_is_readable_by_root_only_and_the_client_finds_it_in_the_state_dir()
    {
        var secret = Path.Combine(_lab.StateDir, "secret");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
        Assert.True(File.ReadAllText(secret).Trim().Length >= 32);
        Assert.Equal(0, _lab.Cli(["ls"], secret).ExitCode);
    }

    [Fact]
    public void A_missing_secret_file_or_an_unreachable_daemon_is_one_clear_error()
    {
        var noSecret = _lab.Cli(["ls"], Path.Combine(_lab.StateDir, "no-such-file"));
        Assert.Equal(2, noSecret.ExitCode);
        Assert.Contains("cannot read the secret file", noSecret.Stderr, StringComparison.Ordinal);

        var unreachable = Lab.Run(Lab.CliPath, ["--contact", "127.0.0.1:1", "--state-dir", _lab.StateDir, "ls"]);
        Assert.Equal(3, unreachable.ExitCode);
        Assert.Contains("cannot reach cloonixd", unreachable.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fifo_as_a_vm_image_is_refused_with_one_clear_line_and_changes_nothing()
    {
        var before = Snapshot();
        var fifo = Path.Combine(_lab.StateDir, "disk.fifo");
        Assert.Equal(0, Lab.Run("mkfifo", [fifo]).ExitCode);
        try
        {
            var r = _lab.Cli("add", "vm", "vm9", "--nics", "v", "--image", fifo);

            Assert.Equal(1, r.ExitCode);
            Assert.Equal($"cloonix: image {fifo} is a FIFO, not a regular file\n", r.Stderr);
            Assert.Equal(before, Snapshot());
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    [Fact]
    public void A_malformed_topology_file_is_refused_before_anything_is_sent()
    {
        var before = Snapshot();
        var file = Path.Combine(_lab.StateDir, "broken.yaml");
        File.WriteAllText(file, "lans: [lan7\nnodes: {");

        var r = _lab.Cli("deploy", file);

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("broken.yaml", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void A_topology_file_too_large_for_one_frame_is_refused_before_it_is_sent()
    {
        var before = Snapshot();
        var file = Path.Combine(_lab.StateDir, "huge.yaml");
        File.WriteAllText(file, $"lans: [{string.Join(", ", Enumerable.Range(0, 1_000_000).Select(i => $"lan{i}"))}]\n");
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var r = _lab.Cli("deploy", file);

            Assert.Equal(2, r.ExitCode);
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("cloonix: the DeployTopology request is ", line, StringComparison.Ordinal);
            Assert.Contains("more than the 4 MiB remoting frame", line, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}: it waited for a reply instead");
            Assert.Equal(before, Snapshot());
        }
        finally
        {
            File.Delete(file);
        }
    }

    private string Snapshot() =>
        string.Join('\n', [_lab.Ok("ls", "--json"), .. _lab.Namespaces().Order(), .. _lab.Vsctl("list-br").Order().SelectMany(b => _lab.Vsctl("list-ports", b).Order()), .. VmDirs()]);

    private IEnumerable<string> VmDirs()
    {
        var dir = Path.Combine(_lab.StateDir, "vms");
        return Directory.Exists(dir) ? Directory.GetDirectories(dir).Order() : [];
    }
}
