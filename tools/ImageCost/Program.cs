// ImageCost: CPU time and managed memory to decode and preprocess one upload at the pixel limit (2048x2048) and at canvas size (280x280), as the web app and `digitlab predict` do: dotnet run --project tools/ImageCost -c Release
using System.Diagnostics;
using DigitLab.IO;
using DigitLab.Data;
using DigitLab.Reports;
foreach (int side in new[] { 2048, 280 })
{
    var grey = new byte[side * side];
    Array.Fill(grey, (byte)255);
    for (int y = side / 5; y < side * 4 / 5; y++) for (int x = side * 9 / 20; x < side * 11 / 20; x++) grey[y * side + x] = 0;
    var png = PngWriter.Encode(side, side, 1, grey);
    for (int i = 0; i < 3; i++) Preprocess.ToMnist(ImageDecoder.Decode(png));
    int n = side > 1000 ? 20 : 200;
    var p = Process.GetCurrentProcess();
    var cpu0 = p.TotalProcessorTime; var wall = Stopwatch.StartNew();
    long alloc0 = GC.GetTotalAllocatedBytes(true);
    for (int i = 0; i < n; i++) Preprocess.ToMnist(ImageDecoder.Decode(png));
    p.Refresh();
    Console.WriteLine($"{side}x{side} PNG {png.Length} B: CPU {(p.TotalProcessorTime - cpu0).TotalMilliseconds / n:F1} ms/image, wall {wall.Elapsed.TotalMilliseconds / n:F1} ms/image, managed alloc {(GC.GetTotalAllocatedBytes(true) - alloc0) / n / 1048576.0:F1} MiB/image");
}
