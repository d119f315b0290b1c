# The project's warnings (errors with TP_WARNINGS_AS_ERRORS, which the
# project's own CI sets); sanitizers on request; strict floating point so
# that the generators give the same bits on the host as on the device.

set(TP_C_FLAGS -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -ffp-contract=off)
set(TP_CUDA_FLAGS -Xcompiler=-Wall,-Wextra -fmad=false)
if(TP_WARNINGS_AS_ERRORS)
  list(APPEND TP_C_FLAGS -Werror)
  list(APPEND TP_CUDA_FLAGS -Werror=all-warnings)
endif()

set(TP_SANITIZE_FLAGS "")
if(TP_SANITIZE STREQUAL "address,undefined")
  set(TP_SANITIZE_FLAGS -fsanitize=address,undefined
      -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(TP_SANITIZE STREQUAL "thread")
  set(TP_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT TP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TP_SANITIZE must be '', 'address,undefined' or 'thread'")
endif()
# One generator expression per flag: add_compile_options splits lists.
foreach(flag ${TP_SANITIZE_FLAGS})
  add_compile_options($<$<COMPILE_LANGUAGE:C>:${flag}>)
  add_link_options(${flag})
endforeach()

# Applies the project's warnings to one of its own targets.
function(tp_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:${TP_C_FLAGS}>
    $<$<COMPILE_LANGUAGE:CUDA>:${TP_CUDA_FLAGS}>)
endfunction()
