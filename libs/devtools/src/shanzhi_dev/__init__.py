"""Development tooling for Shanzhi (善治): the local suite, demo data, benchmarks."""
