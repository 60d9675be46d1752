// ConsoleCollection: test classes that redirect Console.Out/Console.Error (process-wide) run one after another.
namespace DigitLab.Tests;

/// <summary>
/// xunit runs test classes in parallel, and <see cref="Console.SetOut"/> / <see cref="Console.SetError"/> change the
/// writer for the whole process: two classes that capture the console at once would read (or restore) each other's.
/// Every class that redirects the console joins this collection, so they take turns.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
