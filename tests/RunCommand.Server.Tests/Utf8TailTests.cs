using System.Text;
using RunCommand.Server.Arm;

namespace RunCommand.Server.Tests;

public sealed class Utf8TailTests
{
    [Fact]
    public void Utf8Tail_CutInsideACharacter_StartsAtTheNextCharacter()
    {
        var bytes = Encoding.UTF8.GetBytes("€uro");

        Assert.Equal("uro", RunCommandViews.Utf8Tail(bytes.AsSpan(1)));
        Assert.Equal("uro", RunCommandViews.Utf8Tail(bytes.AsSpan(2)));
        Assert.Equal("€uro", RunCommandViews.Utf8Tail(bytes));
    }

    [Fact]
    public void Utf8Tail_FourByteCharacters_NeverYieldsAReplacementCharacter()
    {
        var bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("😀", 2000)));

        for (var cut = 0; cut < 4; cut++)
        {
            var tail = RunCommandViews.Utf8Tail(bytes.AsSpan(bytes.Length - RunCommandViews.TailBytes + cut));
            Assert.DoesNotContain('\uFFFD', tail);
            Assert.True(Encoding.UTF8.GetByteCount(tail) <= RunCommandViews.TailBytes);
        }
    }
}
