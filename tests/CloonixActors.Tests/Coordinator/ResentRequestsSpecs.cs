namespace CloonixActors.Tests.Coordinator;

public sealed class ResentRequestsSpecs
{
    [Fact]
    public void A_request_is_carried_out_once_whatever_the_resends_and_once_more_when_back_from_the_stash()
    {
        var ids = new ResentRequests();

        Assert.True(ids.Carry("r1"));
        Assert.False(ids.Carry("r1"));

        Assert.True(ids.Carry("r2"));
        ids.Stashed("r2");
        Assert.True(ids.Carry("r2")); // back from the stash
        Assert.False(ids.Carry("r2")); // a resend after that
    }

    [Fact]
    public void Only_the_last_ids_are_kept()
    {
        var ids = new ResentRequests(capacity: 2);
        Assert.True(ids.Carry("r1"));
        Assert.True(ids.Carry("r2"));
        Assert.True(ids.Carry("r3"));

        Assert.True(ids.Carry("r1"));
        Assert.False(ids.Carry("r3"));
    }
}
