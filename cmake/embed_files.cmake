# Turns files into C arrays: cmake -DOUT=FILE.c -DDIR=DIR -DNAMES="a;b" -P embed_files.cmake.
# Writes ui_assets[] (see server/admin/ui_files.h): each file's name below DIR, bytes, length.
# Each array ends in a 0 byte that the length leaves out, so an empty file is an array too.
set(body "/* Generated from ${DIR} by cmake/embed_files.cmake at build time: do not edit. */\n")
string(APPEND body "#include \"admin/ui_files.h\"\n\n")
set(table "")
set(i 0)
foreach(name IN LISTS NAMES)
  file(READ "${DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" digits)
  math(EXPR size "${digits} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes
         "${bytes}")
  string(APPEND body "static const unsigned char file_${i}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", file_${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst ui_asset ui_assets[] = {\n${table}};\n")
string(APPEND body "const size_t ui_asset_count = ${i};\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
