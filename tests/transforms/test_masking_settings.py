"""Settings among the figures masking reads: the total of top's and free's memory and swap lines (a container's cap
under lxcfs), df -h's Size column and a file manager's "(Total: ...)" (a filesystem's size) are content; the used,
free and available figures next to them stay volatile (fourth output audit, finding B2)."""

from transforms.masking import mask, mask_many

TOP = ("top - 14:53:55 up 0 min,  0 user,  load average: 0.00, 0.00, 0.00\n"
       "Tasks:   8 total,   1 running,   7 sleeping,   0 stopped,   0 zombie\n"
       "MiB Mem :    512.0 total,    506.1 free,      5.6 used,      0.3 buff/cache\n"
       "MiB Swap:      0.0 total,      0.0 free,      0.0 used.    506.4 avail Mem\n")
FREE = ("               total        used        free      shared  buff/cache   available\n"
        "Mem:          524288        5732      518556           0           0      518556\n"
        "Swap:              0           0           0\n")
DF = ("Filesystem      Size  Used Avail Use% Mounted on\n"
      "tmpfs           130M  348K  130M   1% /work\n"
      "shm              64M     0   64M   0% /dev/shm\n")


def masked_lines(text: str) -> list[str]:
    return mask(text)[1].splitlines()


def test_top_memory_and_swap_totals_are_content_and_the_rest_of_the_summary_usage():
    lines = masked_lines(TOP)
    assert lines[2] == "MiB Mem :    512.0 total,<usage> free,<usage> used,<usage> buff/cache"
    assert lines[3] == "MiB Swap:      0.0 total,<usage> free,<usage> used.<usage> avail Mem"
    # The number of tasks moves with what runs: its total stays usage.
    assert lines[1] == "Tasks:<usage> total,<usage> running,<usage> sleeping,<usage> stopped,<usage> zombie"
    texts = [TOP, FREE, DF, "Free space: 1.5 GiB (Total: 4 GiB)"]
    assert mask_many(texts) == [mask(text) for text in texts]  # the grouped pass finds the same


def test_free_s_total_column_is_content_in_each_unit():
    assert masked_lines(FREE)[1:] == ["Mem:          524288 <usage> <usage> <usage> <usage> <usage>",
                                      "Swap:              0 <usage> <usage>"]
    # free -h --si prints sizes the byte size rule would take: the total must not become one.
    assert masked_lines("Mem:           537M        5.6M       506M\n") == ["Mem:           537M <usage> <usage>"]
    # Old top and BSD's top label it; BusyBox's top leads with what is used, which moves.
    assert masked_lines("Mem:   2055556k total,  1896828k used\nSwap: 2048M Total, 2048M Free\n") == [
        "Mem:   2055556k total,<usage> used", "Swap: 2048M Total,<usage> Free"]
    assert masked_lines("Mem: 473784K used, 32504K free, 0K shrd\n") == [
        "Mem:<usage> used,<usage> free,<usage> shrd"]


def test_df_s_size_column_is_content_and_used_and_avail_stay_byte_sizes():
    assert masked_lines(DF)[1:] == ["tmpfs           130M  <byte_size>  <byte_size>   1% /work",
                                    "shm              64M     0   <byte_size>   0% /dev/shm"]
    # A wrapped row (the device name on a line of its own) and --si's lowercase k.
    assert masked_lines("/dev/mapper/vg-root\n   50G   10G   40G  20% /\n")[1] == \
        "   50G   <byte_size>   <byte_size>  20% /"
    assert masked_lines("x 8.2M 4.1k 4.1M 50% /x") == ["x 8.2M 4.1k <byte_size> 50% /x"]
    # Sizes without a Use% after them are no df row.
    assert masked_lines("130M 348K 130M") == ["<byte_size> <byte_size> <byte_size>"]
    assert masked_lines("130M 348K 130M 1%x") == ["<byte_size> <byte_size> <byte_size> 1%x"]


def test_a_file_manager_s_total_is_content_and_its_free_space_a_byte_size():
    label = "Free space: 128.0 MiB (Total: 128.0 MiB)"
    assert masked_lines(label) == ["Free space: <byte_size> (Total: 128.0 MiB)"]
