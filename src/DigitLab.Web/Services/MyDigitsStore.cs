// MyDigitsStore: the user's own drawings ("My digits") in one SQLite database beside the models: add, list, delete,
// counts, the collection as a dataset, and export/import in the ImageFolder layout (ROOT/0/*.png … ROOT/9/*.png).
using System.Globalization;
using System.IO.Compression;
using DigitLab.Data;
using DigitLab.IO;
using Microsoft.Data.Sqlite;

namespace DigitLab.Web.Services;

/// <summary>One saved drawing, without its pixels (those are served as PNGs by id).</summary>
/// <param name="Predicted">The digit the model answered when the drawing was saved (null when no model was saved then).</param>
/// <param name="Confidence">That answer's probability, in [0, 1].</param>
/// <param name="Model">The model that answered, or the source ("import: PATH") for imported images.</param>
public sealed record MyDrawing(long Id, int Label, int? Predicted, double? Confidence, string? Model, DateTimeOffset Created);

/// <summary>What an import added and what it skipped (each file with its reason).</summary>
public sealed record ImportReport(int Added, IReadOnlyList<SkippedFile> Skipped, int[] Counts);

/// <summary>A file an import could not use, and why.</summary>
public sealed record SkippedFile(string Path, string Reason);

/// <summary>The database file exists but cannot be used (not SQLite, damaged, unreadable). The message says what to do.</summary>
public sealed class MyDigitsUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The collected drawings: per drawing the canvas as the browser sent it (PNG), the 28×28 input the model received
/// (784 bytes, white ink on black), the label the user confirmed, the model's answer and confidence, and the time.
/// </summary>
/// <remarks>
/// <para>One connection per call (pooled by Microsoft.Data.Sqlite), so any number of requests may call at once; the
/// database runs in WAL mode (readers never wait for the writer) with a busy timeout, so concurrent writers queue
/// rather than fail.</para>
/// <para>A file at <see cref="DatabasePath"/> that is not a SQLite database is never overwritten or "repaired": every call
/// throws <see cref="MyDigitsUnavailableException"/> naming the file and asking the user to move it aside.</para>
/// </remarks>
public sealed class MyDigitsStore
{
    /// <summary>The database's file name in the models directory.</summary>
    public const string FileName = "my-digits.db";
    /// <summary>How long a writer waits for another writer's transaction before giving up.</summary>
    public const int BusyTimeoutMs = 10_000;
    /// <summary>Import limits: files per import, and bytes of one image file inside a zip.</summary>
    public const int MaxImportFiles = 20_000;
    public const long MaxImportFileBytes = 1024 * 1024;
    /// <summary>Bytes one import may unpack in all: a small zip that inflates to gigabytes is refused once past this.</summary>
    public const long MaxImportTotalBytes = 256L * 1024 * 1024;

    private readonly string _connectionString;
    private readonly object _schemaGate = new();
    private volatile bool _ready;

    public MyDigitsStore(string databasePath)
    {
        DatabasePath = Path.GetFullPath(databasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = BusyTimeoutMs / 1000,
        }.ToString();
    }

    /// <summary>The store of the models directory: <c>MODELS/my-digits.db</c>.</summary>
    public static MyDigitsStore InModelsDirectory(string modelsDirectory) => new(Path.Combine(modelsDirectory, FileName));

    public string DatabasePath { get; }

    /// <summary>Saves a drawing. <paramref name="input"/> is 784 bytes (28×28, white on black); <paramref name="canvasPng"/> may be null (an imported image).</summary>
    /// <returns>The saved drawing with its new id.</returns>
    public MyDrawing Add(int label, ReadOnlySpan<byte> input, byte[]? canvasPng, int? predicted, double? confidence, string? model)
    {
        if (label is < 0 or > 9) throw new ArgumentOutOfRangeException(nameof(label), label, $"A label is a digit 0..9, found {label}.");
        if (input.Length != MnistDataset.Pixels) throw new ArgumentException($"The model input is 784 bytes (28×28), found {input.Length}.", nameof(input));
        var created = DateTimeOffset.UtcNow;
        var pixels = input.ToArray();
        return Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO drawings (label, input, canvas, predicted, confidence, model, created)
                VALUES ($label, $input, $canvas, $predicted, $confidence, $model, $created);
                SELECT last_insert_rowid();
                """;
            command.Parameters.AddWithValue("$label", label);
            command.Parameters.Add("$input", SqliteType.Blob).Value = pixels;
            command.Parameters.Add("$canvas", SqliteType.Blob).Value = (object?)canvasPng ?? DBNull.Value;
            command.Parameters.AddWithValue("$predicted", (object?)predicted ?? DBNull.Value);
            command.Parameters.AddWithValue("$confidence", (object?)confidence ?? DBNull.Value);
            command.Parameters.AddWithValue("$model", (object?)model ?? DBNull.Value);
            command.Parameters.AddWithValue("$created", created.ToString("O", CultureInfo.InvariantCulture));
            long id = (long)command.ExecuteScalar()!;
            return new MyDrawing(id, label, predicted, confidence, model, created);
        });
    }

    /// <summary>Every drawing (or those of one digit), oldest first.</summary>
    public IReadOnlyList<MyDrawing> List(int? digit = null) => Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, label, predicted, confidence, model, created FROM drawings"
            + (digit is null ? "" : " WHERE label = $digit") + " ORDER BY id";
        if (digit is not null) command.Parameters.AddWithValue("$digit", digit.Value);
        using var reader = command.ExecuteReader();
        var list = new List<MyDrawing>();
        while (reader.Read())
            list.Add(new MyDrawing(reader.GetInt64(0), reader.GetInt32(1),
                reader.IsDBNull(2) ? null : reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetDouble(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)));
        return (IReadOnlyList<MyDrawing>)list;
    });

    /// <summary>The 784-byte model input of drawing <paramref name="id"/>; null when there is none.</summary>
    public byte[]? Input(long id) => Blob(id, "input");

    /// <summary>The canvas PNG the browser sent for drawing <paramref name="id"/>; null when unknown or imported.</summary>
    public byte[]? Canvas(long id) => Blob(id, "canvas");

    /// <summary>Deletes one drawing; false when there was none with that id.</summary>
    public bool Delete(long id) => Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM drawings WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return command.ExecuteNonQuery() > 0;
    });

    /// <summary>Drawings per digit, (10).</summary>
    public int[] Counts() => Run(connection =>
    {
        var counts = new int[MnistDataset.Classes];
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT label, COUNT(*) FROM drawings GROUP BY label";
        using var reader = command.ExecuteReader();
        while (reader.Read()) counts[reader.GetInt32(0)] = reader.GetInt32(1);
        return counts;
    });

    /// <summary>The collection as a dataset (oldest first): the 28×28 inputs and the confirmed labels.</summary>
    public MnistDataset ToDataset() => Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT label, input FROM drawings ORDER BY id";
        using var reader = command.ExecuteReader();
        var images = new MemoryStream();
        var labels = new List<byte>();
        while (reader.Read())
        {
            labels.Add((byte)reader.GetInt32(0));
            images.Write((byte[])reader.GetValue(1));
        }
        return new MnistDataset(images.ToArray(), labels.ToArray(), "my-digits");
    });

    /// <summary>Writes the collection as an image folder: <c>ROOT/d/ID.png</c>, 28×28 grey PNGs (each written atomically by <see cref="ImageFolder.WriteImage"/>).</summary>
    /// <returns>The number of images written.</returns>
    public int ExportFolder(string root)
    {
        int written = 0;
        foreach (var (drawing, input) in Inputs())
        {
            ImageFolder.WriteImage(root, drawing.Label, $"{drawing.Id}.png", input);
            written++;
        }
        return written;
    }

    /// <summary>Writes the collection as a zip of the image folder layout (<c>d/ID.png</c> entries) into <paramref name="output"/>.</summary>
    public void ExportZip(Stream output)
    {
        using var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var (drawing, input) in Inputs())
        {
            var entry = zip.CreateEntry($"{drawing.Label}/{drawing.Id}.png", CompressionLevel.Fastest);
            entry.LastWriteTime = drawing.Created;
            using var stream = entry.Open();
            stream.Write(PngWriter.Encode(28, 28, 1, input));
        }
    }

    /// <summary>
    /// Imports an image folder (<c>ROOT/0/*.png … ROOT/9/*.png</c>, or <c>ROOT/train/…</c> and <c>ROOT/test/…</c>, any format the
    /// decoder reads) as <see cref="ImageFolder.Load"/> reads it; unreadable files are skipped with their reason.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="InvalidDataException">No class folders, or a class folder without a usable image (the message names it).</exception>
    public ImportReport ImportFolder(string root)
    {
        var folder = ImageFolder.Load(root);
        var images = new List<(int Label, byte[] Input)>();
        foreach (var set in new[] { folder.Train, folder.Test })
            for (int i = 0; i < (set?.Count ?? 0); i++) images.Add((set!.Labels[i], set.Image(i).ToArray()));
        if (images.Count > MaxImportFiles)
            throw new InvalidDataException($"The folder holds {images.Count:N0} images; at most {MaxImportFiles:N0} are taken at once. Split it into smaller parts.");
        Insert(images, $"import: {folder.Root}");
        return new ImportReport(images.Count, folder.Skipped.Select(s => new SkippedFile(s.Path, s.Reason)).ToList(), Counts());
    }

    /// <summary>Imports a zip of an image folder: entries <c>[TOP/]d/NAME.ext</c> with d a digit; other entries are skipped with their reason.</summary>
    /// <exception cref="InvalidDataException">Not a zip archive.</exception>
    public ImportReport ImportZip(Stream zipStream, string sourceName)
    {
        ZipArchive zip;
        try { zip = new ZipArchive(zipStream, ZipArchiveMode.Read); }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{sourceName} is not a zip archive this app can read ({e.Message}). Export one from My digits, or zip folders 0 … 9 of images.", e);
        }
        using var _ = zip;
        var files = new List<(string Name, int Label, Func<byte[]> Read, long Length)>();
        var skipped = new List<SkippedFile>();
        foreach (var entry in zip.Entries)
        {
            if (entry.FullName.EndsWith('/')) continue; // a folder
            var parts = entry.FullName.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || parts[^2].Length != 1 || !char.IsAsciiDigit(parts[^2][0]))
            {
                skipped.Add(new SkippedFile(entry.FullName, "not inside a digit folder: expected 0/NAME.png … 9/NAME.png"));
                continue;
            }
            var e = entry;
            files.Add((entry.FullName, parts[^2][0] - '0', () => ReadEntry(e), entry.Length));
        }
        var report = Import(files, $"import: {sourceName}");
        return report with { Skipped = [.. skipped, .. report.Skipped] };
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry)
    {
        // The declared length was checked; the copy is bounded too, since a crafted archive may lie about it.
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > MaxImportFileBytes)
                throw new InvalidDataException($"it unpacks to more than {MaxImportFileBytes:N0} bytes, the most one digit image may have");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>Decodes and preprocesses every file, then adds the good ones in one transaction.</summary>
    private ImportReport Import(List<(string Name, int Label, Func<byte[]> Read, long Length)> files, string source)
    {
        if (files.Count > MaxImportFiles)
            throw new InvalidDataException($"The import holds {files.Count:N0} images; at most {MaxImportFiles:N0} are taken at once. Split it into smaller parts.");
        var good = new List<(int Label, byte[] Input)>();
        var skipped = new List<SkippedFile>();
        long unpacked = 0;
        foreach (var (name, label, read, length) in files)
        {
            if (length > MaxImportFileBytes)
            {
                skipped.Add(new SkippedFile(name, $"the file is {length:N0} bytes; one digit image may have at most {MaxImportFileBytes:N0}"));
                continue;
            }
            byte[] bytes;
            try { bytes = read(); }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                skipped.Add(new SkippedFile(name, e.Message));
                continue;
            }
            // Outside the per-file catch: past the total, the whole import stops (a zip bomb is not "one bad file").
            unpacked += bytes.Length;
            if (unpacked > MaxImportTotalBytes)
                throw new InvalidDataException($"The import unpacks to more than {MaxImportTotalBytes:N0} bytes in all (at {name}); nothing was added. Split it into smaller parts.");
            try
            {
                good.Add((label, ModelInput(ImageDecoder.Decode(bytes, name))));
            }
            catch (Exception e) when (e is InvalidDataException or EmptyImageException)
            {
                skipped.Add(new SkippedFile(name, e.Message));
            }
        }
        Insert(good, source);
        return new ImportReport(good.Count, skipped, Counts());
    }

    /// <summary>Adds imported images in one transaction (all or nothing).</summary>
    private void Insert(List<(int Label, byte[] Input)> good, string source) =>
        Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var created = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO drawings (label, input, canvas, predicted, confidence, model, created) VALUES ($label, $input, NULL, NULL, NULL, $model, $created)";
            var labelParameter = command.Parameters.Add("$label", SqliteType.Integer);
            var inputParameter = command.Parameters.Add("$input", SqliteType.Blob);
            command.Parameters.AddWithValue("$model", source);
            command.Parameters.AddWithValue("$created", created);
            foreach (var (label, input) in good)
            {
                labelParameter.Value = label;
                inputParameter.Value = input;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return 0;
        });

    /// <summary>
    /// The 28×28 model input of a decoded image, by the library's one rule for decoded images (<see cref="Preprocess.FromImage"/>,
    /// as the predict endpoint's uploads and image folders use): a 28×28 image is taken as an MNIST image, any other size
    /// (a drawing, a photo of paper) is cleaned up and preprocessed as MNIST was.
    /// </summary>
    /// <exception cref="EmptyImageException">No digit in the image.</exception>
    public static byte[] ModelInput(RasterImage raster) => Preprocess.FromImage(raster).Pixels;

    private IEnumerable<(MyDrawing Drawing, byte[] Input)> Inputs()
    {
        foreach (var drawing in List())
            if (Input(drawing.Id) is { } input) yield return (drawing, input);
    }

    private byte[]? Blob(long id, string column) => Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {column} FROM drawings WHERE id = $id"; // column: one of two names fixed in this file
        command.Parameters.AddWithValue("$id", id);
        var value = command.ExecuteScalar();
        return value is byte[] bytes ? bytes : null;
    });

    /// <summary>Opens a connection (creating the schema on first use), runs <paramref name="work"/>, and turns SQLite's errors into readable ones.</summary>
    private T Run<T>(Func<SqliteConnection, T> work)
    {
        try
        {
            if (!_ready) Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!); // a fresh machine has no models folder yet
            using var connection = new SqliteConnection(_connectionString);
            connection.Open();
            // Per connection: wait for a concurrent writer instead of failing with "database is locked".
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMs};";
                pragma.ExecuteNonQuery();
            }
            if (!_ready) EnsureSchema(connection);
            return work(connection);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 26 /* SQLITE_NOTADB */ or 11 /* SQLITE_CORRUPT */)
        {
            throw new MyDigitsUnavailableException(
                $"{DatabasePath} is not a readable SQLite database ({e.Message.TrimEnd('.')}). Your drawings are kept there untouched: " +
                $"move the file aside (or restore it from a backup) and DigitLab will start a new collection.", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 14 /* SQLITE_CANTOPEN */ or 8 /* SQLITE_READONLY */ or 10 /* SQLITE_IOERR */)
        {
            throw new MyDigitsUnavailableException(
                $"The drawings database {DatabasePath} cannot be opened for writing ({e.Message.TrimEnd('.')}). Check that the folder exists and is writable.", e);
        }
    }

    private void EnsureSchema(SqliteConnection connection)
    {
        lock (_schemaGate)
        {
            if (_ready) return;
            using var command = connection.CreateCommand();
            // WAL: readers (the My digits page) never block the writer (a save), and a crash never leaves half a row.
            command.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS drawings (
                    id         INTEGER PRIMARY KEY AUTOINCREMENT,
                    label      INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
                    input      BLOB    NOT NULL CHECK (length(input) = 784),
                    canvas     BLOB,
                    predicted  INTEGER CHECK (predicted BETWEEN 0 AND 9),
                    confidence REAL,
                    model      TEXT,
                    created    TEXT    NOT NULL
                );
                CREATE INDEX IF NOT EXISTS drawings_label ON drawings (label);
                """;
            command.ExecuteNonQuery();
            _ready = true;
        }
    }
}
