# xrec_set_warnings(target): the warning set for xrec's own code (not for third-party headers).
function(xrec_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()
