# Install rules: `make install` (PREFIX, DESTDIR), `cmake --install`, and the
# Debian package (debian/rules installs through them too).
#
# The binary is installed as usual. The config, the systemd unit, the
# logrotate file and the man page name each other's paths, so they are
# rendered at install time (cmake/install_files.cmake), from the prefix the
# install really uses: `cmake --install build --prefix /opt/x` gives a unit
# that starts /opt/x/bin/causalkv-server.
include(GNUInstallDirs)

set(CAUSALKV_DATA_DIR "/var/lib/causalkv" CACHE PATH
    "dir of the installed config (the causalkv user's data)")
set(CAUSALKV_LOG_DIR "/var/log/causalkv" CACHE PATH
    "Directory of the installed config's logfile (causalkv.log)")
set(CAUSALKV_SYSTEMD_UNIT_DIR "" CACHE PATH
    "Where causalkv-server.service goes; empty: /lib/systemd/system for the prefixes / and /usr, <prefix>/lib/systemd/system otherwise")

install(TARGETS causalkv-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(CODE "
  set(CAUSALKV_SOURCE_DIR [[${PROJECT_SOURCE_DIR}]])
  set(CAUSALKV_BINARY_DIR [[${PROJECT_BINARY_DIR}]])
  set(CAUSALKV_VERSION [[${PROJECT_VERSION}]])
  set(CAUSALKV_BINDIR [[${CMAKE_INSTALL_BINDIR}]])
  set(CAUSALKV_SYSCONFDIR [[${CMAKE_INSTALL_SYSCONFDIR}]])
  set(CAUSALKV_MANDIR [[${CMAKE_INSTALL_MANDIR}]])
  set(CAUSALKV_DATA_DIR [[${CAUSALKV_DATA_DIR}]])
  set(CAUSALKV_LOG_DIR [[${CAUSALKV_LOG_DIR}]])
  set(CAUSALKV_SYSTEMD_UNIT_DIR [[${CAUSALKV_SYSTEMD_UNIT_DIR}]])
  include([[${PROJECT_SOURCE_DIR}/cmake/install_files.cmake]])
")
