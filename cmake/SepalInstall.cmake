# SepalInstall.cmake: `cmake --install` puts the headers under include/sepal, the library under
# lib, and a CMake package so that another project can find_package(Sepal) and link Sepal::sepal.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS sepal EXPORT SepalTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES sepal.h DESTINATION include/sepal)
foreach(dir tensor autograd layers optim io checkpoint data dist)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${dir})
    install(DIRECTORY ${dir} DESTINATION include/sepal FILES_MATCHING PATTERN "*.h")
  endif()
endforeach()
install(EXPORT SepalTargets NAMESPACE Sepal:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sepal)
configure_package_config_file(cmake/SepalConfig.cmake.in ${PROJECT_BINARY_DIR}/SepalConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sepal)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SepalConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SepalConfig.cmake ${PROJECT_BINARY_DIR}/SepalConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sepal)
