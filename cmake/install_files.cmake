# Runs at install time, from the install(CODE) of cmake/install.cmake, with
# CMAKE_INSTALL_PREFIX final and the CAUSALKV_* variables set there. Renders
# the templates with the paths of this install and installs them through
# file(INSTALL), which adds $DESTDIR and records each file in the manifest.
#
# The installed config is conf/causalkv.conf with four directives changed for
# the service: dir, logfile, supervised and daemonize. Each must appear in it
# exactly once, so that a later edit of the file cannot silently drop one.

# GNUInstallDirs' rule for an absolute directory: /etc belongs to the system
# prefixes, /etc/opt/<x> to /opt/<x>, <prefix>/etc to any other.
function(causalkv_full_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(full "${dir}")
  elseif(dir MATCHES "^etc(/.*)?$" AND CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
    set(full "/${dir}")
  elseif(dir MATCHES "^etc(/.*)?$" AND CMAKE_INSTALL_PREFIX MATCHES "^/opt/")
    string(REGEX REPLACE "^etc" "/etc${CMAKE_INSTALL_PREFIX}" full "${dir}")
  else()
    set(full "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  string(REGEX REPLACE "/+" "/" full "${full}")
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

causalkv_full_dir(bindir "${CAUSALKV_BINDIR}")
causalkv_full_dir(sysconfdir "${CAUSALKV_SYSCONFDIR}")
causalkv_full_dir(mandir "${CAUSALKV_MANDIR}")
if(CAUSALKV_SYSTEMD_UNIT_DIR)
  set(unitdir "${CAUSALKV_SYSTEMD_UNIT_DIR}")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
  # Debian bookworm's place for packaged units (usrmerge keeps /usr/lib too).
  set(unitdir "/lib/systemd/system")
else()
  # systemd also reads /usr/local/lib/systemd/system.
  set(unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

foreach(path IN ITEMS "${bindir}" "${sysconfdir}" "${CAUSALKV_DATA_DIR}" "${CAUSALKV_LOG_DIR}")
  if(path MATCHES "[ \t\"'\\\\#]")
    message(FATAL_ERROR "causalkv: '${path}' cannot go into the config and the unit unquoted")
  endif()
endforeach()

set(CAUSALKV_BIN "${bindir}/causalkv-server")
set(CAUSALKV_CONF "${sysconfdir}/causalkv/causalkv.conf")
set(CAUSALKV_LOG_FILE "${CAUSALKV_LOG_DIR}/causalkv.log")
set(CAUSALKV_LOGROTATE "${sysconfdir}/logrotate.d/causalkv-server")
set(CAUSALKV_UNIT "${unitdir}/causalkv-server.service")

file(READ "${CAUSALKV_SOURCE_DIR}/conf/causalkv.conf" conf)
function(causalkv_set_directive name value)
  string(REGEX MATCHALL "(^|\n)${name} [^\n]*" found "${conf}")
  list(LENGTH found count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "causalkv: conf/causalkv.conf has ${count} '${name}' lines, the install needs one")
  endif()
  string(REGEX REPLACE "(^|\n)${name} [^\n]*" "\\1${name} ${value}" conf "${conf}")
  set(conf "${conf}" PARENT_SCOPE)
endfunction()
causalkv_set_directive(dir "${CAUSALKV_DATA_DIR}")
causalkv_set_directive(logfile "${CAUSALKV_LOG_FILE}")
causalkv_set_directive(supervised systemd)
causalkv_set_directive(daemonize no)
string(PREPEND conf
  "# Installed by causalkv's install rules for ${CAUSALKV_UNIT}:\n"
  "# dir, logfile, supervised and daemonize below are set for the service.\n\n")

# LimitNOFILE follows the shipped maxclients; 32 is the server's own reserve
# (AdjustOpenFilesLimit in src/server/server.cc).
if(NOT conf MATCHES "\nmaxclients ([0-9]+)\n")
  message(FATAL_ERROR "causalkv: conf/causalkv.conf has no 'maxclients <n>' line")
endif()
set(CAUSALKV_MAXCLIENTS "${CMAKE_MATCH_1}")
math(EXPR CAUSALKV_NOFILE "${CAUSALKV_MAXCLIENTS} + 32")

# Rendered per prefix and DESTDIR, so that two installs from one build
# directory never write each other's files.
string(MD5 stage_key "${CMAKE_INSTALL_PREFIX}|$ENV{DESTDIR}")
set(stage "${CAUSALKV_BINARY_DIR}/install-files/${stage_key}")
file(MAKE_DIRECTORY "${stage}")
file(WRITE "${stage}/causalkv.conf" "${conf}")
configure_file("${CAUSALKV_SOURCE_DIR}/conf/causalkv-server.service.in"
               "${stage}/causalkv-server.service" @ONLY)
configure_file("${CAUSALKV_SOURCE_DIR}/conf/causalkv-server.logrotate.in"
               "${stage}/causalkv-server" @ONLY)
# In roff a bare "-" may print as a hyphen, which breaks a path pasted from
# the page: the paths go into the man page as "\-", and the man page last.
foreach(var IN ITEMS CAUSALKV_CONF CAUSALKV_DATA_DIR CAUSALKV_LOG_FILE CAUSALKV_LOGROTATE
                     CAUSALKV_UNIT)
  string(REPLACE "-" "\\-" ${var} "${${var}}")
endforeach()
configure_file("${CAUSALKV_SOURCE_DIR}/man/causalkv-server.1.in"
               "${stage}/causalkv-server.1" @ONLY)

set(readable OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL DESTINATION "${sysconfdir}/causalkv" TYPE FILE PERMISSIONS ${readable}
     FILES "${stage}/causalkv.conf")
file(INSTALL DESTINATION "${sysconfdir}/logrotate.d" TYPE FILE PERMISSIONS ${readable}
     FILES "${stage}/causalkv-server")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE PERMISSIONS ${readable}
     FILES "${stage}/causalkv-server.service")
file(INSTALL DESTINATION "${mandir}/man1" TYPE FILE PERMISSIONS ${readable}
     FILES "${stage}/causalkv-server.1")
