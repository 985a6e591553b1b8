# Gives the Catch2 tests of one tier that carry some tags one more ctest label, e.g. `threads` for
# the tests that drive several threads, so `ctest -L threads` runs them in any build tree (tests/run
# runs them under TSan). catch_discover_tests gives every test of an executable the same labels;
# this adds a second, post-build listing of the tagged tests that sets their labels after the
# discovered tests are defined. Included as a module, it defines the function; run with -P (by
# the post-build step), it writes the label file.
#
#   patroxy_label_tagged_tests(TARGET PREFIX SPEC LABELS)
#     TARGET  a Catch2 executable whose tests catch_discover_tests defined in this directory
#     PREFIX  the TEST_PREFIX used there ("integration.")
#     SPEC    a Catch2 test spec choosing the tests: "[threads],[listen]" is one tag or the other
#     LABELS  the tests' labels, comma-separated ("integration,threads"): replaces their labels

if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND "${EXECUTABLE}" ${SPEC} --list-test-names-only
                  OUTPUT_VARIABLE names RESULT_VARIABLE result)
  if(result LESS 0)
    message(FATAL_ERROR "listing the tests of ${EXECUTABLE} failed: ${result}")
  endif()
  string(REPLACE "," ";" labels "${LABELS}")
  string(REPLACE "\n" ";" names "${names}")
  set(script "")
  foreach(name IN LISTS names)
    if(name STREQUAL "")
      continue()
    endif()
    string(APPEND script "set_tests_properties([==[${PREFIX}${name}]==] PROPERTIES LABELS \"${labels}\")\n")
  endforeach()
  file(WRITE "${OUT}" "${script}")
  return()
endif()

set(PATROXY_LABEL_TAGGED_TESTS_SCRIPT "${CMAKE_CURRENT_LIST_FILE}")

function(patroxy_label_tagged_tests target prefix spec labels)
  set(label_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_labels.cmake")
  add_custom_command(
    TARGET ${target} POST_BUILD
    BYPRODUCTS "${label_file}"
    COMMAND "${CMAKE_COMMAND}" -D "EXECUTABLE=$<TARGET_FILE:${target}>" -D "SPEC=${spec}" -D "PREFIX=${prefix}"
            -D "LABELS=${labels}" -D "OUT=${label_file}" -P "${PATROXY_LABEL_TAGGED_TESTS_SCRIPT}"
    VERBATIM)
  # After catch_discover_tests' include file (TEST_INCLUDE_FILES run in order): the tests exist.
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_labels_include.cmake")
  file(WRITE "${include_file}" "if(EXISTS \"${label_file}\")\n  include(\"${label_file}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
