"""Building blocks with no kernel era in them: sizes, ranges, errors, the command line, versions, x86_64 constants."""
