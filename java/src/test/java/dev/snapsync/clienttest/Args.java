package dev.snapsync.clienttest;

import java.util.HashMap;
import java.util.Map;

/** Args parses {@code --name value} pairs. */
final class Args {
  private final Map<String, String> values = new HashMap<>();

  Args(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 == args.length) {
        throw new IllegalArgumentException("want --name value pairs, got " + args[i]);
      }
      values.put(args[i].substring(2), args[++i]);
    }
  }

  String get(String name) {
    String v = values.get(name);
    if (v == null) {
      throw new IllegalArgumentException("missing --" + name);
    }
    return v;
  }

  String get(String name, String otherwise) {
    String v = values.get(name);
    return v == null ? otherwise : v;
  }

  long getLong(String name) {
    return Long.parseLong(get(name));
  }
}
