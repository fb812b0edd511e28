# SPDX-License-Identifier: MIT
# Run by `cmake --install`: puts the atrium-host provisioner into the environment at the install prefix (its
# python3, which the installed kernel runs with too), so jupyter_client there finds the provisioner the host
# kernelspecs name. pip builds from a fresh copy in the build tree (ATRIUM_PROVISIONER_STAGE): setuptools writes
# build/ and *.egg-info beside what it builds, and the source tree must get no generated files.
set(python "${CMAKE_INSTALL_PREFIX}/bin/python3")
if(NOT EXISTS "${python}")
    message(FATAL_ERROR "[install.no_python] the atrium-host provisioner goes into the Python environment at the "
                        "install prefix, but ${python} does not exist (install into a virtual environment, as "
                        "scripts/install.sh does)")
endif()
file(REMOVE_RECURSE "${ATRIUM_PROVISIONER_STAGE}")
file(COPY "${ATRIUM_PROVISIONER_SOURCE}/" DESTINATION "${ATRIUM_PROVISIONER_STAGE}" PATTERN __pycache__ EXCLUDE)
set(root)
if(NOT "$ENV{DESTDIR}" STREQUAL "")
    set(root --root "$ENV{DESTDIR}")
endif()
message(STATUS "Installing: the atrium-host provisioner into ${python}'s environment")
# --no-build-isolation: setuptools (and wheel, for its bdist_wheel) come from the environment
# (scripts/python-requirements.txt), so installing needs no network.
execute_process(COMMAND "${python}" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation
                        --no-index ${root} "${ATRIUM_PROVISIONER_STAGE}"
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "[install.provisioner] pip could not install the atrium-host provisioner from "
                        "${ATRIUM_PROVISIONER_STAGE} (status ${status})")
endif()
