"""Command-line splitting as kernel/params.c next_arg() and parse_args() do it."""

from earlymem.lib.cmdline import CommandLine, split_args


def test_plain_params_and_repeats_keep_order():
    c = CommandLine("console=ttyS0 memmap=1M$0x100 nokaslr memmap=2M$0x200")
    assert list(c.params()) == [("console", "ttyS0"), ("memmap", "1M$0x100"), ("nokaslr", None), ("memmap", "2M$0x200")]
    assert c.get_all("memmap") == ["1M$0x100", "2M$0x200"]
    assert c.get("memmap") == "2M$0x200"
    assert c.has("nokaslr") and c.get("nokaslr") is None


def test_quotes_group_spaces_and_are_removed():
    params, _ = split_args('dyndbg="file foo.c +p" "acpi_osi=Windows 2009" x')
    assert params == [("dyndbg", "file foo.c +p"), ("acpi_osi", "Windows 2009"), ("x", None)]


def test_double_dash_ends_kernel_params():
    c = CommandLine("mem=3G -- init=/bin/sh memmap=1G$0")
    assert list(c.params()) == [("mem", "3G")]
    assert c.init_args == ("init=/bin/sh", "memmap=1G$0")


def test_equals_at_position_zero_is_no_value():
    # next_arg(): 'equals' stays 0 when '=' is the first character.
    assert split_args("=x")[0] == [("=x", None)]


def test_dash_and_underscore_compare_equal():
    assert CommandLine("log-buf-len=4M").get("log_buf_len") == "4M"


def test_extra_white_space():
    assert split_args("  a=1 \t b  ")[0] == [("a", "1"), ("b", None)]


def test_typed_access():
    import pytest

    from earlymem.lib.errors import InputError

    c = CommandLine("mem=4G log_buf_len=0x400000 nokaslr crashkernel=256M,high bad=12x")
    assert c.size("mem") == 4 << 30
    assert c.integer("log_buf_len") == 0x400000
    assert c.flag("nokaslr") and not c.flag("mem")
    assert c.size("absent") is None
    with pytest.raises(InputError, match="not a size"):
        c.size("crashkernel")
    with pytest.raises(InputError, match="not a number"):
        c.integer("bad")


def test_leading_number_reads_like_simple_strtoul():
    c = CommandLine("nr_cpus=2abc swiotlb=0x8000,force hashdist bad=x huge=99999999999999999999999")
    assert c.leading_number("nr_cpus") == 2 and c.leading_number("swiotlb") == 0x8000
    assert c.leading_number("hashdist") is None and c.leading_number("bad") is None
    assert c.leading_number("huge") is None and c.leading_number("absent") is None
