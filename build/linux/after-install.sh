#!/bin/bash
# The deb's after-install (an electron-builder template: only its own macros may appear
# in dollar-brace form; shell variables are written $name). It does what
# electron-builder's default does for the app (the command on PATH, the Chromium
# sandbox, desktop database, AppArmor) and installs the privileged service: the
# `chronodisk` command, the systemd unit and the polkit files, then starts the service.
set -e
APP='/opt/${sanitizedProductName}'
EXE='${executable}'
FILES="$APP/resources/linux"

# The window: chronodisk-app. The command line and the service: chronodisk (a launcher
# that runs Electron's binary as Node).
ln -sf "$APP/$EXE" "/usr/bin/$EXE"
ln -sf "$FILES/chronodisk" /usr/bin/chronodisk

# Chromium's SUID sandbox only where user namespaces do not work.
if ! { [[ -L /proc/self/ns/user ]] && unshare --user true; }; then
  chmod 4755 "$APP/chrome-sandbox" || true
else
  chmod 0755 "$APP/chrome-sandbox" || true
fi

if hash update-mime-database 2>/dev/null; then update-mime-database /usr/share/mime || true; fi
if hash update-desktop-database 2>/dev/null; then update-desktop-database /usr/share/applications || true; fi

# AppArmor (Ubuntu 24+ restricts unprivileged user namespaces), as electron-builder does.
if apparmor_status --enabled >/dev/null 2>&1; then
  PROFILE="$APP/resources/apparmor-profile"
  if apparmor_parser --skip-kernel-load --debug "$PROFILE" >/dev/null 2>&1; then
    cp -f "$PROFILE" "/etc/apparmor.d/$EXE"
    if ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
      apparmor_parser --replace --write-cache --skip-read-cache "/etc/apparmor.d/$EXE"
    fi
  fi
fi

# Who may use the service without root: members of the chronodisk group
# (sudo adduser YOU chronodisk). The service gives its socket to this group.
if ! getent group chronodisk >/dev/null; then
  groupadd --system chronodisk || addgroup --system chronodisk
fi

# The settings file is the administrator's: written once, never replaced.
[ -e /etc/default/chronodisk ] || install -D -m 0644 "$FILES/chronodisk.default" /etc/default/chronodisk
install -D -m 0644 "$FILES/chronodisk.service" /lib/systemd/system/chronodisk.service
install -D -m 0644 "$FILES/dev.chronodisk.service.policy" /usr/share/polkit-1/actions/dev.chronodisk.service.policy
install -D -m 0644 "$FILES/50-chronodisk.rules" /usr/share/polkit-1/rules.d/50-chronodisk.rules

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl enable chronodisk.service || true
  if grep -q '^CHRONODISK_APPLIANCE=' /etc/default/chronodisk; then
    systemctl restart chronodisk.service || echo "chronodisk: the service did not start; see: journalctl -u chronodisk.service"
  else
    echo "chronodisk: name the appliance in /etc/default/chronodisk (CHRONODISK_APPLIANCE=DIR), then: sudo systemctl start chronodisk"
  fi
fi
