"""Standard benchmark protocols on real data (nonlinearbenchmark.org), with their run configs shipped here."""
