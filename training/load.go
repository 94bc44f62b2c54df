package training

import (
	"fmt"
	"strings"
)

// LoadDataset returns standardized train and test sets for a --dataset flag
// value: "digits" (embedded), "mnist" or "idx" (IDX files in dataDir) or
// "csv:PATH". Sets without their own test split are split by testFraction,
// stratified and seeded. Statistics for standardization come from the
// training split only. Text data ("text:PATH", "fortunes") is LoadText's,
// in windows of DefaultContext tokens and not standardized: token ids are
// not measurements.
func LoadDataset(spec, dataDir string, testFraction float64, seed uint64) (train, test *Dataset, err error) {
	if IsTextDataset(spec) {
		return LoadText(spec, dataDir, DefaultContext)
	}
	name, arg, _ := strings.Cut(spec, ":")
	perFeature := true
	switch name {
	case "digits":
		var all *Dataset
		if all, err = Digits(); err == nil {
			train, test, err = SplitTrainTest(all, testFraction, seed)
		}
	case "mnist", "idx":
		if dataDir == "" {
			return nil, nil, fmt.Errorf("--dataset %s needs --data-dir DIR holding train-images-idx3-ubyte[.gz] and the other three IDX files", spec)
		}
		train, test, err = LoadIDXDir(dataDir)
		perFeature = false // pixels share one scale; per-pixel scaling blows up rare border pixels
	case "csv":
		if arg == "" {
			return nil, nil, fmt.Errorf("--dataset csv:PATH: missing the file path")
		}
		var all *Dataset
		if all, err = ReadCSVFile(arg); err == nil {
			train, test, err = SplitTrainTest(all, testFraction, seed)
		}
	default:
		return nil, nil, fmt.Errorf("--dataset %q: want digits, mnist (with --data-dir), csv:PATH, text:PATH or fortunes", spec)
	}
	if err != nil {
		return nil, nil, err
	}
	std := FitStandardizer(train, perFeature)
	std.Apply(train)
	std.Apply(test)
	return train, test, nil
}
