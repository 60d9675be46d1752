// DatasetApiTests: paging, digit filters, single images with every model's prediction, and bad queries.
using System.Net;
using DigitLab.Web.Api;

namespace DigitLab.Web.Tests;

public sealed class DatasetApiTests : IDisposable
{
    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public DatasetApiTests()
    {
        _app.Store.Add("alpha").Add("beta");
        _client = _app.CreateClient();
    }

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task FirstAndLastPage_HoldTheRightImages()
    {
        var first = await HttpAssert.Ok<DatasetPage>(await _client.GetAsync("/api/dataset/train"));
        Assert.Equal((1, 13, 1234, 100), (first.Page, first.PageCount, first.Total, first.Items.Count));
        Assert.Equal(Enumerable.Range(0, 100), first.Items.Select(i => i.Index));
        var images = Convert.FromBase64String(first.Images);
        Assert.Equal(100 * 784, images.Length);
        Assert.Equal(57, images[57 * 784]); // pixel 0 of image i is i % 256

        var last = await HttpAssert.Ok<DatasetPage>(await _client.GetAsync("/api/dataset/train?page=13"));
        Assert.Equal(34, last.Items.Count);
        Assert.Equal(1233, last.Items[^1].Index);
        Assert.Equal(3, last.Items[^1].Label);
    }

    [Fact]
    public async Task DigitFilter_KeepsOnlyThoseDigits()
    {
        var page = await HttpAssert.Ok<DatasetPage>(await _client.GetAsync("/api/dataset/test?digits=5, 3"));
        Assert.Equal([3, 5], page.Digits);
        Assert.Equal(50, page.Total); // 250 images, labels i % 10
        Assert.All(page.Items, item => Assert.Contains(item.Label, new[] { 3, 5 }));
        Assert.Equal(1, page.PageCount);
    }

    [Theory]
    [InlineData("/api/dataset/train?page=14", "past the last page", "13 page")]
    [InlineData("/api/dataset/train?page=0", "page must be", "'0'")]
    [InlineData("/api/dataset/train?page=two", "page must be", "'two'")]
    [InlineData("/api/dataset/test?digits=3,12", "digits", "'12'")]
    [InlineData("/api/dataset/test?digits=a", "digits", "'a'")]
    [InlineData("/api/dataset/validation", "'train' or 'test'", "'validation'")]
    [InlineData("/api/dataset/test/250", "0 to 249", "'250'")]
    [InlineData("/api/dataset/test/-1", "0 to 249", "'-1'")]
    [InlineData("/api/dataset/test/random?digit=x", "digits", "'x'")]
    public async Task BadQueries_Are400(string url, string fragment1, string fragment2)
    {
        await HttpAssert.Problem(await _client.GetAsync(url), HttpStatusCode.BadRequest, fragment1, fragment2);
    }

    [Fact]
    public async Task SingleImage_HasLabelAndEveryModelsPrediction()
    {
        var image = await HttpAssert.Ok<DatasetImage>(await _client.GetAsync("/api/dataset/test/42"));
        Assert.Equal((42, 2), (image.Index, image.Label));
        Assert.Equal(42, Convert.FromBase64String(image.Image)[0]);
        Assert.Equal(["alpha", "beta"], image.Predictions.Select(p => p.Model));
    }

    [Fact]
    public async Task RandomImage_OfAChosenDigit()
    {
        for (int i = 0; i < 5; i++)
        {
            var image = await HttpAssert.Ok<DatasetImage>(await _client.GetAsync("/api/dataset/test/random?digit=7"));
            Assert.Equal(7, image.Label);
            Assert.Equal(7, image.Index % 10);
        }
    }

    [Fact]
    public async Task MissingDataset_Is503_AndSaysHowToFetchIt()
    {
        _app.Data.Missing = true;
        await HttpAssert.Problem(await _client.GetAsync("/api/dataset/train"), HttpStatusCode.ServiceUnavailable, "./digitlab data");
    }
}
