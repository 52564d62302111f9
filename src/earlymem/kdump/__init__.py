"""kdump readiness: the capture kernel's memory, ``earlymem check`` and ``earlymem recommend``.

* :mod:`.initrd`: what a kdump initramfs costs the capture kernel (its archive read as the kernel unpacks it);
* :mod:`.memory`: the capture kernel's memory from the hand-off to the end of the dump, stage by stage;
* :mod:`.calibration`: what a build takes between the hand-off and /init, measured on real boots.
"""
