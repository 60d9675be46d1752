// DigitLab.Web: draw a digit and see what the models see, browse MNIST, train live. Program.cs only wires.
using DigitLab.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddDigitLab();

var app = builder.Build();
app.UseDigitLab();
app.MapDigitLabApis();
app.Run();

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
