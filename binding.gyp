{
  "targets": [
    {
      "target_name": "kernlb",
      "sources": ["native/addon.cc", "<!@(node scripts/list-sources.js)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(node scripts/pkg-config.js --cflags)"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["<!@(node scripts/pkg-config.js --libs)"]
    }
  ]
}
