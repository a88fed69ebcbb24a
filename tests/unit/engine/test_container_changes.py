"""A container's changes as `docker diff` lists them, without the mount points Podman adds to every container."""
from dockerlab.engine.images import without_podman_mount_points

C, A, D = 0, 1, 2  # the changes API's kinds


def test_a_container_that_changed_nothing_has_no_changes():
    # Recorded from Podman 5.4.2: `true` in a busybox container.
    assert without_podman_mount_points([{"Path": "/etc", "Kind": C}]) == []


def test_the_learner_s_changes_stay_and_so_does_a_folder_they_changed_something_in():
    changes = [{"Path": "/etc", "Kind": C}, {"Path": "/etc/foo", "Kind": A}, {"Path": "/tmp", "Kind": C},
               {"Path": "/tmp/new", "Kind": A}, {"Path": "/a", "Kind": D}]
    assert without_podman_mount_points(changes) == changes


def test_podman_s_mounted_files_and_their_otherwise_unchanged_folders_go():
    changes = [{"Path": "/run", "Kind": C}, {"Path": "/run/.containerenv", "Kind": A},
               {"Path": "/etc", "Kind": C}, {"Path": "/etc/hosts", "Kind": A}, {"Path": "/etc/resolv.conf", "Kind": A},
               {"Path": "/etc/hostname", "Kind": A}, {"Path": "/data/new.txt", "Kind": A}]
    assert without_podman_mount_points(changes) == [{"Path": "/data/new.txt", "Kind": A}]


def test_no_changes_stay_none():
    assert without_podman_mount_points(None) is None
