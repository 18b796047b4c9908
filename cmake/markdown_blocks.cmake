# hotstate_extract_marked_blocks(): writes the fenced code blocks of a
# Markdown page that are marked with an HTML comment line to files, so that
# documentation examples are built and run as tests (README.md's readme-test
# blocks, docs/tutorial.md's tutorial-file blocks).
#
#   hotstate_extract_marked_blocks(
#     PAGE <file.md>            the page
#     MARKER <word>             blocks preceded by the line "<!-- word: NAME -->"
#     NAME_REGEX <regex>        what NAME may be (a character class, e.g. "[A-Za-z0-9_-]+")
#     FENCE_REGEX <regex>       what the opening fence line must be (e.g. "```cpp")
#     OUTPUT_DIR <dir>          each block goes to <dir>/NAME<SUFFIX>
#     [SUFFIX <text>]           appended to NAME (e.g. ".cpp")
#     [HEADER <text>]           written before the block's body
#     NAMES_VAR <var>)          receives the list of names, in page order
#
# A file is rewritten only when its content changes, so untouched examples are
# not rebuilt; the page is added to CMAKE_CONFIGURE_DEPENDS. Malformed markers,
# a missing or wrong fence, an unclosed block and duplicate names are errors.
function(hotstate_extract_marked_blocks)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "PAGE;MARKER;NAME_REGEX;FENCE_REGEX;OUTPUT_DIR;SUFFIX;HEADER;NAMES_VAR" "")
  get_filename_component(page_name "${arg_PAGE}" NAME)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${arg_PAGE}")
  file(READ "${arg_PAGE}" text)
  string(REPLACE "\r\n" "\n" text "${text}")
  # A leading newline lets every marker be found as "\n<!-- MARKER: ".
  set(text "\n${text}")
  set(marker "\n<!-- ${arg_MARKER}: ")
  string(LENGTH "${marker}" marker_length)
  set(names "")
  while(TRUE)
    string(FIND "${text}" "${marker}" at)
    if(at EQUAL -1)
      break()
    endif()
    math(EXPR name_at "${at} + ${marker_length}")
    string(SUBSTRING "${text}" ${name_at} -1 text)

    # The marker's line: "NAME -->" must end it.
    string(FIND "${text}" "\n" line_end)
    if(line_end EQUAL -1)
      message(FATAL_ERROR "${page_name}: a ${arg_MARKER} marker is the last line; a code block must follow it")
    endif()
    string(SUBSTRING "${text}" 0 ${line_end} marker_rest)
    if(NOT marker_rest MATCHES "^(${arg_NAME_REGEX}) -->[ \t]*$")
      message(FATAL_ERROR "${page_name}: malformed marker '<!-- ${arg_MARKER}: ${marker_rest}'; "
                          "expected '<!-- ${arg_MARKER}: NAME -->' with NAME matching ${arg_NAME_REGEX}")
    endif()
    set(name "${CMAKE_MATCH_1}")
    if(name IN_LIST names)
      message(FATAL_ERROR "${page_name}: two ${arg_MARKER} blocks are named '${name}'")
    endif()

    # The next line must open the block.
    math(EXPR fence_at "${line_end} + 1")
    string(SUBSTRING "${text}" ${fence_at} -1 text)
    string(FIND "${text}" "\n" line_end)
    if(line_end EQUAL -1)
      set(line_end 0)
    endif()
    string(SUBSTRING "${text}" 0 ${line_end} fence_line)
    string(STRIP "${fence_line}" fence_line)
    if(line_end EQUAL 0 OR NOT fence_line MATCHES "^${arg_FENCE_REGEX}$")
      message(FATAL_ERROR "${page_name}: the ${arg_MARKER} marker '${name}' must be immediately followed by "
                          "a line matching ${arg_FENCE_REGEX}")
    endif()

    # The body runs to the closing fence: a line starting with ```.
    math(EXPR body_at "${line_end} + 1")
    string(SUBSTRING "${text}" ${body_at} -1 text)
    set(text "\n${text}")
    string(FIND "${text}" "\n```" body_end)
    if(body_end EQUAL -1)
      message(FATAL_ERROR "${page_name}: the block of ${arg_MARKER} '${name}' is never closed")
    endif()
    string(SUBSTRING "${text}" 1 ${body_end} body)
    math(EXPR after_at "${body_end} + 4")
    string(SUBSTRING "${text}" ${after_at} -1 text)

    set(output "${arg_OUTPUT_DIR}/${name}${arg_SUFFIX}")
    file(WRITE "${output}.tmp" "${arg_HEADER}${body}")
    file(COPY_FILE "${output}.tmp" "${output}" ONLY_IF_DIFFERENT)
    file(REMOVE "${output}.tmp")
    list(APPEND names "${name}")
  endwhile()
  set(${arg_NAMES_VAR} "${names}" PARENT_SCOPE)
endfunction()
