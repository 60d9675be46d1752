// FineTuneData: the web's rules for fine-tuning on the user's drawings: how many are needed, which are held out to
// measure before and after, and the largest replay share the Train page accepts.
using DigitLab.Data;

namespace DigitLab.Web.Services;

/// <summary>Splitting the user's drawings for fine-tuning (the MNIST replay mix is the library's <see cref="Training.Replay.Mix"/>).</summary>
public static class FineTuneData
{
    /// <summary>Drawings needed to fine-tune: at least one to train on and one held out to measure.</summary>
    public const int MinDrawings = 2;
    /// <summary>Share of the drawings held out (stratified by digit; at least one), as the library's <see cref="Training.FineTuneRequest.HeldOutFraction"/>.</summary>
    public const double HeldOutShare = 0.2;
    /// <summary>Largest replay fraction the page accepts: at 0.95 the mix is already 19 MNIST images per drawing.</summary>
    public const double MaxReplayFraction = 0.95;

    /// <summary>
    /// Splits the drawings into (Train, HeldOut): a seeded stratified split holding out round(n × 0.2) drawings (half away
    /// from zero, as <see cref="Training.FineTuning.Run"/> does), but at least one and never all.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than <see cref="MinDrawings"/> drawings.</exception>
    public static (MnistDataset Train, MnistDataset HeldOut) HoldOut(MnistDataset own, ulong seed = 1)
    {
        if (own.Count < MinDrawings)
            throw new ArgumentException($"Fine-tuning needs at least {MinDrawings} saved drawings (one to learn from, one to measure on); My digits holds {own.Count}. Draw and save some on the Recognise page.");
        int heldOut = Math.Clamp((int)Math.Round(own.Count * HeldOutShare, MidpointRounding.AwayFromZero), 1, own.Count - 1);
        return Split.Stratified(own, heldOut, seed);
    }
}
