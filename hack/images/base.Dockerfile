# The local stand-in for python:3.11-slim-bookworm: mmdebstrap's Debian bookworm root filesystem
# (python3, python3-venv, ca-certificates), made by hack/images/build.py next to this file's copy.
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8
CMD ["/bin/bash"]
