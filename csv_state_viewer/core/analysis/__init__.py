"""What the tools compute from states: statistics, histograms, differences, the tensor tree."""
