# Warnings are errors; sanitizers on request; strict floating point so that
# the generators give the same bits on the host as on the device.

set(TP_C_FLAGS -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -ffp-contract=off)
set(TP_CUDA_FLAGS -Xcompiler=-Wall,-Wextra -Werror=all-warnings
    -fmad=false)

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
