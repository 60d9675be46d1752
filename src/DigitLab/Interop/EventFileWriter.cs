// EventFileWriter: TensorBoard event files as PyTorch's SummaryWriter writes them (scalars, histograms, images, hparams).
using Google.Protobuf;
using Tensorboard;
using Tensorboard.Hparams;

namespace DigitLab.Interop;

/// <summary>
/// Writes one TensorBoard event file, <c>events.out.tfevents.{unix time}.{host}.{pid}.{n}</c>, in a run folder: TFRecord
/// frames (<see cref="TfRecord"/>) of <see cref="Event"/> protobufs from TensorBoard's own <c>event.proto</c>, the first
/// holding <c>file_version: "brain.Event:2"</c>, each with its wall time (seconds since 1970) and step.
/// </summary>
/// <remarks>
/// Thread-safe. Events are buffered and flushed to the operating system every <see cref="FlushInterval"/> (by a timer,
/// so a quiet spell is flushed too) and on <see cref="Flush"/> / <see cref="Dispose"/>: a process killed with kill -9
/// leaves a file that reads up to its last flush (TensorBoard, like <see cref="TfRecord.ReadAll(string)"/>, ignores a
/// final record cut short).
/// </remarks>
public sealed class EventFileWriter : IDisposable
{
    /// <summary>The first event's file_version, as TensorFlow and PyTorch write it.</summary>
    public const string FileVersion = "brain.Event:2";

    /// <summary>How often buffered events reach the file at the latest.</summary>
    public static TimeSpan FlushInterval { get; } = TimeSpan.FromSeconds(2);

    private static int _fileCounter;
    private readonly FileStream _stream;
    private readonly Timer _timer;
    private readonly Lock _lock = new();
    private bool _dirty, _disposed;

    /// <summary>The event file's path.</summary>
    public string Path { get; }

    /// <summary>Creates the run folder if needed and a new event file in it, and writes the file_version event.</summary>
    public EventFileWriter(string runDirectory)
    {
        Directory.CreateDirectory(runDirectory);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string name = $"events.out.tfevents.{now}.{Environment.MachineName}.{Environment.ProcessId}.{Interlocked.Increment(ref _fileCounter)}";
        Path = System.IO.Path.Combine(runDirectory, name);
        // An event file is an append-only log that TensorBoard reads while it grows, so it is written in place (not
        // through AtomicFile): a reader sees whole records up to the last flush, and the framing marks a cut record.
        _stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 1 << 16);
        Write(new Event { WallTime = WallTime(), FileVersion = FileVersion });
        Flush();
        _timer = new Timer(_ => Flush(), null, FlushInterval, FlushInterval);
    }

    /// <summary>Seconds since 1970-01-01 UTC, with fractions, as Python's time.time().</summary>
    public static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>A scalar (PyTorch's add_scalar): Summary.Value.simple_value.</summary>
    public void AddScalar(string tag, double value, long step) =>
        AddSummary(step, new Summary.Types.Value { Tag = tag, SimpleValue = (float)value });

    /// <summary>
    /// A histogram of <paramref name="values"/> (PyTorch's add_histogram): min, max, count, sum, sum of squares and
    /// <paramref name="buckets"/> equal-width buckets between min and max (bucket_limit holds each bucket's right edge).
    /// </summary>
    public void AddHistogram(string tag, ReadOnlySpan<float> values, long step, int buckets = 30)
    {
        AddSummary(step, new Summary.Types.Value { Tag = tag, Histo = Histogram(values, buckets) });
    }

    /// <summary>The histogram proto of <paramref name="values"/>; see <see cref="AddHistogram"/>.</summary>
    public static HistogramProto Histogram(ReadOnlySpan<float> values, int buckets)
    {
        if (buckets < 1) throw new ArgumentOutOfRangeException(nameof(buckets), buckets, "A histogram needs at least one bucket.");
        var h = new HistogramProto { Num = values.Length };
        if (values.Length == 0) return h;
        double min = double.MaxValue, max = double.MinValue, sum = 0, squares = 0;
        foreach (float v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            squares += (double)v * v;
        }
        (h.Min, h.Max, h.Sum, h.SumSquares) = (min, max, sum, squares);
        if (max == min) buckets = 1;
        double width = (max - min) / buckets;
        var counts = new double[buckets];
        foreach (float v in values)
        {
            int b = width == 0 ? 0 : (int)((v - min) / width);
            counts[Math.Clamp(b, 0, buckets - 1)]++;
        }
        for (int b = 0; b < buckets; b++)
        {
            h.BucketLimit.Add(b == buckets - 1 ? max : min + (b + 1) * width);
            h.Bucket.Add(counts[b]);
        }
        return h;
    }

    /// <summary>A PNG image (PyTorch's add_image): Summary.Value.image with its size and colour space (1 grey, 3 RGB).</summary>
    public void AddImage(string tag, byte[] png, int width, int height, int channels, long step, string? description = null)
    {
        var value = new Summary.Types.Value
        {
            Tag = tag,
            Image = new Summary.Types.Image { Width = width, Height = height, Colorspace = channels, EncodedImageString = ByteString.CopyFrom(png) },
        };
        if (description is not null) value.Metadata = new SummaryMetadata { SummaryDescription = description };
        AddSummary(step, value);
    }

    /// <summary>
    /// The HParams plugin's session start (PyTorch's add_hparams does the same): tag <c>_hparams_/session_start_info</c>,
    /// plugin "hparams", content a serialized <see cref="HParamsPluginData"/>. TensorBoard's HParams tab lists each run
    /// that has one, with these values and the run's scalars as metrics.
    /// </summary>
    public void AddSessionStart(IReadOnlyDictionary<string, object> hparams)
    {
        var start = new SessionStartInfo { StartTimeSecs = WallTime() };
        foreach (var (name, value) in hparams)
            start.Hparams[name] = value switch
            {
                bool b => Google.Protobuf.WellKnownTypes.Value.ForBool(b),
                string s => Google.Protobuf.WellKnownTypes.Value.ForString(s),
                IConvertible c => Google.Protobuf.WellKnownTypes.Value.ForNumber(c.ToDouble(System.Globalization.CultureInfo.InvariantCulture)),
                _ => Google.Protobuf.WellKnownTypes.Value.ForString(value.ToString() ?? ""),
            };
        AddPluginSummary(HParamsTags.SessionStart, new HParamsPluginData { Version = HParamsTags.PluginDataVersion, SessionStartInfo = start });
    }

    /// <summary>The HParams plugin's session end: success, or failure for a run that stopped early.</summary>
    public void AddSessionEnd(bool success) =>
        AddPluginSummary(HParamsTags.SessionEnd, new HParamsPluginData
        {
            Version = HParamsTags.PluginDataVersion,
            SessionEndInfo = new SessionEndInfo { Status = success ? Status.Success : Status.Failure, EndTimeSecs = WallTime() },
        });

    private void AddPluginSummary(string tag, HParamsPluginData data)
    {
        var metadata = new SummaryMetadata
        {
            PluginData = new SummaryMetadata.Types.PluginData { PluginName = HParamsTags.PluginName, Content = data.ToByteString() },
        };
        // With TensorBoard's NULL_TENSOR (an empty float vector) as the value, as the plugin's own summary functions write it.
        var empty = new TensorProto { Dtype = Tensorboard.DataType.DtFloat, TensorShape = new TensorShapeProto() };
        empty.TensorShape.Dim.Add(new TensorShapeProto.Types.Dim { Size = 0 });
        AddSummary(0, new Summary.Types.Value { Tag = tag, Metadata = metadata, Tensor = empty });
    }

    private void AddSummary(long step, Summary.Types.Value value)
    {
        var summary = new Summary();
        summary.Value.Add(value);
        Write(new Event { WallTime = WallTime(), Step = step, Summary = summary });
    }

    /// <summary>Appends one event (buffered; see <see cref="FlushInterval"/>).</summary>
    public void Write(Event e)
    {
        byte[] data = e.ToByteArray();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            TfRecord.Write(_stream, data);
            _dirty = true;
        }
    }

    /// <summary>Hands every buffered event to the operating system (it survives the process being killed from then on).</summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (_disposed || !_dirty) return;
            _stream.Flush();
            _dirty = false;
        }
    }

    /// <summary>Flushes to disk and closes the file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
        }
        _timer?.Dispose();
    }
}

/// <summary>The HParams plugin's names (tensorboard/plugins/hparams/metadata.py).</summary>
public static class HParamsTags
{
    public const string PluginName = "hparams";
    public const int PluginDataVersion = 0;
    public const string SessionStart = "_hparams_/session_start_info";
    public const string SessionEnd = "_hparams_/session_end_info";
}
