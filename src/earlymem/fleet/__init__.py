"""Fleets: `earlymem check` over many hosts at once (issue 19).

One pure function per host (:func:`earlymem.fleet.job.check_host`: its input in, one row out, a bad
input a row with the error); hosts found in directories and globs of sosreports, system copies and
boot logs (:mod:`earlymem.fleet.hosts`); a local process pool that streams the rows to the output as
they come, so that a driver that dies loses nothing already written and a re-run skips the hosts
already done (by host id and input hash) (:mod:`earlymem.fleet.run`).
"""
